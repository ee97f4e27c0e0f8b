"""The apps runtime contract (`ipai_core.apps`), against the real test database: manifests,
the registry, the database's refusal, `open_app` on a page, feature flags, audited actions,
per-user cache keys and identity forwarded by a trusted proxy.

Apps here are throwaway folders under `tmp_path`, registered into the test database.
"""

from __future__ import annotations

import ast
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ipai_core.apps import flags, registry
from ipai_core.apps.context import AppContext
from ipai_core.apps.flags import FlagRow
from ipai_core.apps.manifest import AppManifest, discover, find_app, load_manifest
from ipai_core.apps.runtime import SIGNED_OUT, TURNED_OFF
from ipai_core.auth import users
from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied, ConfigError, InvalidCredentials, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.settings import PROJECT_ROOT, Settings
from ipai_core.workspace import identity, proxy, server
from ipai_core.workspace.ui import plain
from tests.support.apps import assert_refused, new_slug, run_app_page, write_app

UserMaker = Callable[..., tuple[str, str, str]]


@pytest.fixture
def apps_settings(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test database's settings with an apps folder of our own."""
    apps_settings = settings.model_copy(update={"apps_dir": tmp_path / "apps"})
    (tmp_path / "apps").mkdir()
    yield apps_settings
    identity.use_settings(None)


def register(lakehouse: Lakehouse, manifest: AppManifest) -> None:
    with lakehouse.session(Principal.service("test")) as s:
        registry.register(s, [manifest])


def test_page_shows_data_to_a_user_with_the_role(
    apps_settings: Settings, make_user: UserMaker
) -> None:
    slug = new_slug()
    write_app(apps_settings.apps_dir, slug)
    _, _, token = make_user(["finance"])
    app = run_app_page(slug, token, settings=apps_settings)
    assert [t.value for t in app.title] == [f"Test app {slug}"]
    assert [t.value for t in app.text] == ["beta is off"]
    assert app.dataframe[0].value["slug"].tolist() == [slug]


def test_page_refuses_a_user_without_the_role(
    apps_settings: Settings, make_user: UserMaker
) -> None:
    slug = new_slug()
    write_app(apps_settings.apps_dir, slug)
    _, _, token = make_user(["analyst"])
    app = run_app_page(slug, token, settings=apps_settings)
    assert_refused(app)
    assert "finance" in app.error[0].value and "analyst" in app.error[0].value
    assert not app.title


def test_page_asks_a_visitor_to_sign_in(apps_settings: Settings) -> None:
    slug = new_slug()
    write_app(apps_settings.apps_dir, slug)
    app = run_app_page(slug, settings=apps_settings)
    assert [w.value for w in app.warning] == [SIGNED_OUT]
    assert any('href="/auth/login"' in h.proto.body for h in app.html)
    assert not app.dataframe


def test_a_switched_off_app_is_refused_even_with_the_role(
    apps_settings: Settings, make_user: UserMaker, lakehouse: Lakehouse
) -> None:
    slug = new_slug()
    write_app(apps_settings.apps_dir, slug)
    _, _, token = make_user(["finance"])
    run_app_page(slug, token, settings=apps_settings)  # registers it
    _, _, admin_token = make_user(["admin"])
    with lakehouse.session(lakehouse.authenticate(admin_token)) as s:
        registry.set_active(s, slug, False)
    app = run_app_page(slug, token, settings=apps_settings)
    assert [w.value for w in app.warning] == [TURNED_OFF.format(app=plain(f"Test app {slug}"))]
    assert not app.dataframe


# --- manifests --------------------------------------------------------------------------------


def test_manifest_loads_with_defaults_and_sorted_roles(tmp_path: Path) -> None:
    slug = new_slug()
    folder = write_app(tmp_path, slug, roles=("finance", "auditor", "finance"))
    manifest = load_manifest(folder)
    assert manifest.slug == slug
    assert manifest.required_roles == ("auditor", "finance")
    assert manifest.flags["beta"].default is False
    assert manifest.entry_path == folder.resolve() / "app.py"
    assert manifest.registry_config() == {
        "icon": ":material/science:",
        "flags": {"beta": {"default": False, "description": "Try the beta view"}},
    }


MINIMAL = 'slug = "{slug}"\nname = "X"\n'


@pytest.mark.parametrize(
    "manifest",
    [
        pytest.param('slug = "{slug}"\n', id="name missing"),
        pytest.param('slug = "Not A Slug"\nname = "X"\n', id="bad slug"),
        pytest.param('slug = "other-folder"\nname = "X"\n', id="slug differs from folder"),
        pytest.param(MINIMAL + 'colour = "red"\n', id="unknown key"),
        pytest.param(MINIMAL + 'entry_point = "../evil.py"\n', id="entry point outside"),
        pytest.param(MINIMAL + 'entry_point = "missing.py"\n', id="entry point missing"),
        pytest.param(MINIMAL + 'required_roles = ["Finance Team"]\n', id="bad role"),
        pytest.param(
            MINIMAL + "[flags]\nbeta = { description = 'x' }\n", id="flag without default"
        ),
        pytest.param(MINIMAL + "[flags]\nBeta-Flag = { default = true }\n", id="bad flag name"),
        pytest.param('slug = "{slug}\n', id="not TOML"),
    ],
)
def test_invalid_manifests_are_refused(tmp_path: Path, manifest: str) -> None:
    slug = new_slug()
    folder = write_app(tmp_path, slug, manifest=manifest.replace("{slug}", slug))
    with pytest.raises(ConfigError):
        load_manifest(folder)


def test_discover_lists_apps_by_slug_and_names_the_unknown(tmp_path: Path) -> None:
    assert discover(tmp_path / "nothing-here") == []
    for slug in ("b-app", "a-app"):
        write_app(tmp_path, slug)
    (tmp_path / "not-an-app").mkdir()
    assert [m.slug for m in discover(tmp_path)] == ["a-app", "b-app"]
    with pytest.raises(ConfigError, match="a-app, b-app"):
        find_app(tmp_path, "c-app")


# --- the registry -----------------------------------------------------------------------------


def audit_actions(owner_conn: psycopg.Connection, entity_id: str) -> list[str]:
    rows = owner_conn.execute(
        "SELECT action FROM public.ipai_audit_log WHERE entity_id = %s ORDER BY created_at",
        [entity_id],
    ).fetchall()
    return [r[0] for r in rows]


def test_register_is_idempotent_and_audited(
    tmp_path: Path, lakehouse: Lakehouse, owner_conn: psycopg.Connection
) -> None:
    slug = new_slug()
    folder = write_app(tmp_path, slug)
    manifest = load_manifest(folder)
    service = Principal.service("test")
    with lakehouse.session(service) as s:
        assert registry.register(s, [manifest]) == {slug: "registered"}
    with lakehouse.session(service) as s:
        assert registry.register(s, [manifest]) == {slug: "unchanged"}
        with pytest.raises(ConfigError, match=slug):
            registry.register(s, [manifest, manifest])
    renamed = manifest.model_copy(update={"name": "Renamed"})
    with lakehouse.session(service) as s:
        assert registry.register(s, [renamed]) == {slug: "updated"}
        listed = {a.slug: a for a in registry.list_apps(s)}
    assert listed[slug].name == "Renamed"
    assert listed[slug].required_roles == ("finance",)
    assert listed[slug].flags == {"beta": {"default": False, "description": "Try the beta view"}}
    assert audit_actions(owner_conn, listed[slug].id) == ["app_registered", "app_updated"]


def test_the_database_refuses_to_open_an_app_without_the_role(
    tmp_path: Path, lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    slug = new_slug()
    register(lakehouse, load_manifest(write_app(tmp_path, slug)))
    outsider = lakehouse.authenticate(make_user(["analyst"])[2])
    with pytest.raises(AccessDenied) as refused, lakehouse.session(outsider) as s:
        registry.check_open(s, slug)
    assert refused.value.sqlstate == "42501"
    with pytest.raises(AccessDenied), lakehouse.session(outsider) as s:  # straight from SQL
        s.scalar("SELECT public.ipai_open_app(%s)", [slug])
    with pytest.raises(AccessDenied), lakehouse.session(Principal.anonymous()) as s:
        registry.check_open(s, slug)
    for roles in (["finance"], ["admin"]):
        member = lakehouse.authenticate(make_user(roles)[2])
        with lakehouse.session(member) as s:
            app_id = registry.check_open(s, slug)
        assert uuid.UUID(app_id)
    admin = lakehouse.authenticate(make_user(["admin"])[2])
    with pytest.raises(NotFound), lakehouse.session(admin) as s:
        registry.check_open(s, "never-registered")
    with lakehouse.session(admin) as s:
        registry.set_active(s, slug, False)
    finance = lakehouse.authenticate(make_user(["finance"])[2])
    for principal in (finance, admin):
        with pytest.raises(AccessDenied), lakehouse.session(principal) as s:
            registry.check_open(s, slug)
    registered = owner_conn.execute(
        "SELECT id::text FROM public.ipai_app_registry WHERE slug = %s", [slug]
    ).fetchone()
    assert registered is not None
    assert audit_actions(owner_conn, registered[0])[-1] == "app_deactivated"


def test_only_admins_switch_apps_on_and_off(
    tmp_path: Path, lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    slug = new_slug()
    register(lakehouse, load_manifest(write_app(tmp_path, slug)))
    finance = lakehouse.authenticate(make_user(["finance"])[2])
    with pytest.raises(AccessDenied), lakehouse.session(finance) as s:
        registry.set_active(s, slug, False)
    with lakehouse.session(finance) as s:
        assert registry.get_app(s, slug).is_active


# --- feature flags ----------------------------------------------------------------------------


def row(role: str | None, enabled: bool) -> FlagRow:
    return FlagRow(app_slug="a", flag="beta", role=role, enabled=enabled)


@pytest.mark.parametrize(
    ("rows", "roles", "default", "expected"),
    [
        ([], ["finance"], True, True),
        ([], ["finance"], False, False),
        ([row(None, True)], ["finance"], False, True),
        ([row(None, True), row("finance", False)], ["finance"], False, False),
        ([row(None, False), row("finance", True)], ["finance"], False, True),
        ([row("finance", False), row("auditor", True)], ["finance", "auditor"], False, True),
        ([row("auditor", True)], ["finance"], False, False),
        ([row(None, False), row("auditor", True)], ["finance"], True, False),
    ],
)
def test_flag_resolution(
    rows: list[FlagRow], roles: list[str], default: bool, expected: bool
) -> None:
    assert flags.resolve(rows, roles, default) is expected


def test_flags_per_role_from_the_table(
    tmp_path: Path, lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    slug = new_slug()
    manifest = load_manifest(write_app(tmp_path, slug, roles=("finance", "auditor")))
    register(lakehouse, manifest)

    def context(roles: list[str]) -> AppContext:
        return AppContext(manifest, lakehouse.authenticate(make_user(roles)[2]), lakehouse)

    finance, auditor, admin = context(["finance"]), context(["auditor"]), context(["admin"])
    assert finance.flag("beta") is False  # the manifest's default
    with admin.session() as s:
        flags.set_flag(s, slug, "beta", role=None, enabled=True, description="for all")
        flags.set_flag(s, slug, "beta", role="auditor", enabled=False)
        flags.set_flag(s, slug, "beta", role="auditor", enabled=False)  # same row again
    assert finance.flag("beta") is True  # the everyone row
    assert auditor.flag("beta") is False  # the role's own row wins
    with pytest.raises(ConfigError, match="beta"):
        finance.flag("no_such_flag")
    stored = owner_conn.execute(
        "SELECT role, enabled, updated_by::text FROM public.ipai_feature_flag"
        " WHERE app_slug = %s ORDER BY role NULLS FIRST",
        [slug],
    ).fetchall()
    assert stored == [
        (None, True, admin.principal.user_id),
        ("auditor", False, admin.principal.user_id),
    ]
    actions = owner_conn.execute(
        "SELECT action, user_id::text FROM public.ipai_audit_log WHERE event_type = 'app_admin'"
        " AND entity_type = 'feature_flag' AND details ->> 'app' = %s",
        [slug],
    ).fetchall()
    assert actions == [("flag_set", admin.principal.user_id)] * 3
    with admin.session() as s:
        assert flags.clear_flag(s, slug, "beta", role="auditor") is True
        assert flags.clear_flag(s, slug, "beta", role="auditor") is False
    assert auditor.flag("beta") is True


def test_only_admins_write_flags_and_only_viewers_read_them(
    tmp_path: Path, lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    slug = new_slug()
    register(lakehouse, load_manifest(write_app(tmp_path, slug)))
    admin = lakehouse.authenticate(make_user(["admin"])[2])
    with lakehouse.session(admin) as s:
        flags.set_flag(s, slug, "beta", role=None, enabled=True)
    finance = lakehouse.authenticate(make_user(["finance"])[2])
    with pytest.raises(AccessDenied), lakehouse.session(finance) as s:
        flags.set_flag(s, slug, "beta", role="finance", enabled=False)
    with pytest.raises(AccessDenied), lakehouse.session(finance) as s:  # RLS, not only Python
        s.execute(
            "INSERT INTO public.ipai_feature_flag (app_slug, flag, role, enabled)"
            " VALUES (%s, 'beta', 'finance', false)",
            [slug],
        )
    with lakehouse.session(finance) as s:
        assert s.execute("DELETE FROM public.ipai_feature_flag WHERE app_slug = %s", [slug]) == 0
        assert [r.enabled for r in flags.read_rows(s, slug)] == [True]
    outsider = lakehouse.authenticate(make_user(["analyst"])[2])
    with lakehouse.session(outsider) as s:
        assert flags.read_rows(s, slug) == []  # the app is not visible to them, nor its flags


# --- the context ------------------------------------------------------------------------------


def test_audit_action_is_written_as_the_user(
    tmp_path: Path, lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    slug = new_slug()
    manifest = load_manifest(write_app(tmp_path, slug))
    ctx = AppContext(manifest, lakehouse.authenticate(make_user(["finance"])[2]), lakehouse)
    target = uuid.uuid4()
    entry = ctx.audit_action(
        "match_accepted", target_type="bank_line", target_id=target, details={"score": 0.93}
    )
    other = ctx.audit_action("match_rejected", target_type="bank_line", target_id=4711)
    rows = owner_conn.execute(
        "SELECT id, event_type, entity_type, entity_id, user_id::text, action, details, actor_role"
        " FROM public.ipai_audit_log WHERE id = ANY(%s) ORDER BY action",
        [[entry, other]],
    ).fetchall()
    assert rows == [
        (
            entry,
            "app",
            "bank_line",
            target,
            ctx.principal.user_id,
            "match_accepted",
            {"app": slug, "score": 0.93},
            "authenticated",
        ),
        (
            other,
            "app",
            "bank_line",
            None,
            ctx.principal.user_id,
            "match_rejected",
            {"app": slug, "target_id": "4711"},
            "authenticated",
        ),
    ]


def test_cache_key_is_per_database_user_roles_and_app(
    tmp_path: Path, lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    first = load_manifest(write_app(tmp_path, new_slug()))
    second = load_manifest(write_app(tmp_path, new_slug()))
    alice = lakehouse.authenticate(make_user(["finance"])[2])
    bob = lakehouse.authenticate(make_user(["finance"])[2])
    key = AppContext(first, alice, lakehouse).cache_key
    assert key == AppContext(first, alice, lakehouse).cache_key
    assert key[1] == alice.user_id and key[2] == ("finance",) and key[3] == first.slug
    assert "@" not in key[0]  # the database's host:port/name, never credentials
    assert AppContext(first, bob, lakehouse).cache_key != key
    assert AppContext(second, alice, lakehouse).cache_key != key


def test_log_records_carry_app_and_user(
    tmp_path: Path, lakehouse: Lakehouse, make_user: UserMaker, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = load_manifest(write_app(tmp_path, new_slug()))
    email, _, token = make_user(["finance"])
    ctx = AppContext(manifest, lakehouse.authenticate(token), lakehouse)
    with caplog.at_level(logging.INFO, logger=f"ipai.apps.{manifest.slug}"):
        ctx.log.info("reconciled %d lines", 3)
    [record] = caplog.records
    assert record.getMessage() == "reconciled 3 lines"
    assert (record.app, record.user) == (manifest.slug, email)  # type: ignore[attr-defined]


# --- identity forwarded by a trusted proxy ----------------------------------------------------


async def _echo(request: Request) -> JSONResponse:
    forwarded = proxy.forwarded_identity(request.headers)
    return JSONResponse(None if forwarded is None else forwarded.__dict__)


def echo_client(trusted: list[str], peer: str) -> TestClient:
    app = proxy.TrustedProxyMiddleware(Starlette(routes=[Route("/", _echo)]), trusted=trusted)
    return TestClient(app, client=(peer, 50000))


def test_forwarded_identity_counts_only_from_a_trusted_proxy() -> None:
    headers = {"X-Forwarded-Access-Token": "a.b.c", "X-Forwarded-Email": "Ann@Example.test"}
    with echo_client(["10.0.0.0/24"], "10.0.0.7") as trusted:
        assert trusted.get("/", headers=headers).json() == {
            "token": "a.b.c",
            "email": "ann@example.test",
        }
    for trusted_networks, peer in ((["10.0.0.0/24"], "10.0.1.7"), ([], "10.0.0.7")):
        with echo_client(trusted_networks, peer) as untrusted:
            assert untrusted.get("/", headers=headers).json() is None
            forged = {**headers, proxy.VOUCHED: "guess"}  # a client cannot vouch for itself
            assert untrusted.get("/", headers=forged).json() is None
    assert proxy.forwarded_identity(headers) is None  # without the middleware: never


def test_the_server_judges_the_real_peer_not_x_forwarded_for(settings: Settings) -> None:
    """uvicorn's X-Forwarded-For handling runs inside the trusted-proxy check (`server.edge`),
    so a client cannot claim a trusted proxy's address in a header."""
    trusting = settings.model_copy(update={"trusted_proxy_ips": ["10.0.0.0/24"]})
    app = server.edge(Starlette(routes=[Route("/", _echo)]), trusting)
    headers = {"X-Forwarded-Access-Token": "a.b.c"}
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        spoofed = local.get("/", headers={**headers, "X-Forwarded-For": "10.0.0.7"})
        assert spoofed.json() is None
    with TestClient(app, client=("10.0.0.7", 50000)) as proxied:
        forwarded = proxied.get("/", headers={**headers, "X-Forwarded-For": "203.0.113.9"})
        assert forwarded.json() == {"token": "a.b.c", "email": None}


def test_a_forwarded_email_signs_in_only_an_existing_local_account(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    email, _, _ = make_user(["finance"])
    token = users.sign_in_trusted(lakehouse.db, lakehouse.tokens, email.upper())
    principal = lakehouse.authenticate(token)
    assert (principal.email, principal.roles) == (email, ("finance",))
    with pytest.raises(InvalidCredentials):
        users.sign_in_trusted(lakehouse.db, lakehouse.tokens, "nobody@example.test")


def test_trusted_proxy_setting_parses_networks() -> None:
    parsed = Settings(_env_file=None, trusted_proxy_ips="10.0.0.5, 10.1.0.0/16")  # type: ignore[call-arg, arg-type]
    assert parsed.trusted_proxy_ips == ["10.0.0.5", "10.1.0.0/16"]
    with pytest.raises(ValueError, match="not-an-address"):
        Settings(_env_file=None, trusted_proxy_ips="not-an-address")  # type: ignore[call-arg, arg-type]


# --- apps import only the public API ----------------------------------------------------------


def private_imports(source: str) -> list[str]:
    """`ipai_core.<anything>` imports in `source`; apps may import only `ipai_core` itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("ipai_core.")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ipai_core."):
            found.append(str(node.module))
    return found


def test_apps_import_only_the_top_level_package() -> None:
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): private_imports(path.read_text(encoding="utf-8"))
        for path in (PROJECT_ROOT / "apps").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    assert private_imports("from ipai_core.apps import runtime\nimport ipai_core.db") == [
        "ipai_core.apps",
        "ipai_core.db",
    ]
    assert private_imports("from ipai_core import open_app\nimport ipai_core") == []
