"""The vault: secrets round-trip through the real database, are stored encrypted, and never show
up in logs, errors, audit entries or command output."""

from __future__ import annotations

import base64
import copy
import logging
import os
import pickle
import secrets
import stat
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import MIGRATIONS, TEST_JWT_SECRET, UserMaker, make_settings
from pydantic import SecretStr
from typer.testing import CliRunner

from ipai_core import (
    AccessDenied,
    ConfigError,
    DatabaseError,
    Lakehouse,
    NotFound,
    Settings,
    get_settings,
)
from ipai_core.cli import secrets as secrets_cli
from ipai_core.migrate.runner import migrate
from ipai_core.vault import (
    LocalVault,
    SecretValue,
    SupabaseVault,
    check_name,
    open_vault,
    resolve_vault_key,
)

logger = logging.getLogger("ipai.test_vault")


def _name() -> str:
    return f"test/{secrets.token_hex(4)}"


def _value() -> str:
    """A value shaped like a real credential, unique to the test."""
    return "ghp_" + secrets.token_urlsafe(27)


@pytest.fixture
def vault(lakehouse: Lakehouse) -> LocalVault:
    opened = open_vault(lakehouse)
    assert isinstance(opened, LocalVault)  # plain PostgreSQL: no `vault` schema
    return opened


# --- the local vault ------------------------------------------------------------------------------


def test_round_trip(vault: LocalVault) -> None:
    name, value = _name(), _value()
    vault.put(name, value, description="ERP replica password")
    got = vault.get(name)
    assert isinstance(got, SecretValue)
    assert got.reveal() == value


def test_the_table_holds_ciphertext_only(vault: LocalVault, owner_conn: psycopg.Connection) -> None:
    name, value = _name(), _value()
    vault.put(name, value)
    row = owner_conn.execute(
        "SELECT t::text, nonce, ciphertext, key_id FROM public.ipai_vault_secret t WHERE name = %s",
        [name],
    ).fetchone()
    assert row is not None
    as_text, nonce, ciphertext, key_id = row
    assert value not in as_text
    assert value.encode() not in bytes(ciphertext)
    assert len(bytes(nonce)) == 12
    assert key_id == vault.key_id


def test_each_write_draws_a_new_nonce(vault: LocalVault, owner_conn: psycopg.Connection) -> None:
    name, value = _name(), _value()
    nonces = []
    for _ in range(2):
        vault.put(name, value)
        row = owner_conn.execute(
            "SELECT nonce FROM public.ipai_vault_secret WHERE name = %s", [name]
        ).fetchone()
        assert row is not None
        nonces.append(bytes(row[0]))
    assert nonces[0] != nonces[1]


def test_another_key_cannot_decrypt_and_the_error_hides_the_value(
    vault: LocalVault, lakehouse: Lakehouse, caplog: pytest.LogCaptureFixture
) -> None:
    name, value = _name(), _value()
    vault.put(name, value)
    other = LocalVault(lakehouse, key=os.urandom(32))
    assert other.key_id != vault.key_id
    with pytest.raises(ConfigError) as caught:
        other.get(name)
    with caplog.at_level(logging.ERROR, logger=logger.name):
        logger.error("resolving failed", exc_info=caught.value)
    assert name in str(caught.value)
    for text in (str(caught.value), repr(caught.value), caplog.text, _formatted(caught.value)):
        assert value not in text


def test_swapped_ciphertexts_do_not_decrypt(
    vault: LocalVault, owner_conn: psycopg.Connection
) -> None:
    """The name is the associated data: a ciphertext moved onto another name fails to open."""
    first, second = _name(), _name()
    vault.put(first, _value())
    vault.put(second, _value())
    swapped = owner_conn.execute(
        """
        UPDATE public.ipai_vault_secret a SET nonce = b.nonce, ciphertext = b.ciphertext
          FROM public.ipai_vault_secret b
         WHERE (a.name, b.name) IN ((%(first)s, %(second)s), (%(second)s, %(first)s))
        """,
        {"first": first, "second": second},
    )
    assert swapped.rowcount == 2
    for name in (first, second):
        with pytest.raises(ConfigError):
            vault.get(name)


def test_put_again_updates_the_one_row(vault: LocalVault, owner_conn: psycopg.Connection) -> None:
    name, old, new = _name(), _value(), _value()
    vault.put(name, old, description="kept")
    vault.put(name, new)
    assert vault.get(name).reveal() == new
    rows = owner_conn.execute(
        "SELECT description, updated_at >= created_at FROM public.ipai_vault_secret"
        " WHERE name = %s",
        [name],
    ).fetchall()
    assert rows == [("kept", True)]
    vault.put(name, new, description="changed")
    assert [i.description for i in vault.list() if i.name == name] == ["changed"]


def test_list_shows_names_never_values(vault: LocalVault) -> None:
    name, value = _name(), _value()
    vault.put(name, value, description="for the list")
    infos = vault.list()
    mine = [i for i in infos if i.name == name]
    assert len(mine) == 1
    assert mine[0].description == "for the list"
    assert mine[0].created_at <= mine[0].updated_at
    assert value not in repr(infos)


def test_unknown_name_is_not_found(vault: LocalVault) -> None:
    name = _name()
    with pytest.raises(NotFound) as caught:
        vault.get(name)
    assert caught.value.name == name
    assert f"ipai secrets set {name}" in str(caught.value)
    with pytest.raises(NotFound):
        vault.delete(name)


def test_delete_removes_the_secret(vault: LocalVault) -> None:
    name = _name()
    vault.put(name, _value())
    vault.delete(name)
    with pytest.raises(NotFound):
        vault.get(name)


def test_resolve_several_refs(vault: LocalVault) -> None:
    values = {_name(): _value() for _ in range(3)}
    for name, value in values.items():
        vault.put(name, value)
    refs = [*values, next(iter(values))]  # a repeated ref resolves once
    resolved = vault.resolve(refs)
    assert {n: v.reveal() for n, v in resolved.items()} == values
    assert vault.resolve([]) == {}
    missing = _name()
    with pytest.raises(NotFound) as caught:
        vault.resolve([*values, missing])
    assert caught.value.name == missing


@pytest.mark.parametrize("bad", ["", "Upper", "-lead", "sp ace", "semi;colon", "x" * 201])
def test_invalid_names_are_refused(vault: LocalVault, bad: str) -> None:
    with pytest.raises(ConfigError):
        check_name(bad)
    with pytest.raises(ConfigError):
        vault.put(bad, _value())


def test_an_empty_value_is_refused(vault: LocalVault) -> None:
    with pytest.raises(ConfigError):
        vault.put(_name(), "")


def test_clients_cannot_read_the_vault_table(lakehouse: Lakehouse, make_user: UserMaker) -> None:
    _, _, token = make_user(["admin"])
    with pytest.raises(AccessDenied):
        lakehouse.query(lakehouse.authenticate(token), "SELECT * FROM public.ipai_vault_secret")


def test_put_and_delete_are_audited_by_name_only(
    vault: LocalVault, owner_conn: psycopg.Connection
) -> None:
    name, value = _name(), _value()
    vault.put(name, value)
    vault.delete(name)
    actions = owner_conn.execute(
        "SELECT action FROM public.ipai_audit_log"
        " WHERE event_type = 'vault' AND details ->> 'name' = %s ORDER BY created_at",
        [name],
    ).fetchall()
    assert actions == [("secret_set",), ("secret_deleted",)]
    leaked = owner_conn.execute(
        "SELECT count(*) FROM public.ipai_audit_log WHERE details::text LIKE %s",
        [f"%{value}%"],
    ).fetchone()
    assert leaked == (0,)
    reasons = owner_conn.execute(
        "SELECT details ->> 'reason' FROM public.ipai_audit_log"
        " WHERE event_type = 'service_access' AND details ->> 'reason' LIKE %s",
        [f"%{name}%"],
    ).fetchall()
    assert {r[0] for r in reasons} == {f"vault: put {name}", f"vault: delete {name}"}


# --- the key --------------------------------------------------------------------------------------


def test_key_file_is_created_0600_once_and_reused(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data")
    first = resolve_vault_key(settings)
    key_file = tmp_path / "data" / "vault.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) == 32
    assert resolve_vault_key(settings) == first


def test_a_readable_key_file_is_refused(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data")
    resolve_vault_key(settings)
    (tmp_path / "data" / "vault.key").chmod(0o644)
    with pytest.raises(ConfigError):
        resolve_vault_key(settings)


def test_the_key_setting_wins_and_is_checked(database_url: str, tmp_path: Path) -> None:
    key = os.urandom(32)
    settings = _with_key(make_settings(database_url, tmp_path / "data"), _b64(key))
    assert resolve_vault_key(settings) == key
    assert not (tmp_path / "data" / "vault.key").exists()
    bad = _b64(os.urandom(16))
    with pytest.raises(ConfigError) as caught:
        resolve_vault_key(_with_key(settings, bad))
    assert bad not in str(caught.value)


def test_the_same_key_reads_what_it_wrote(lakehouse: Lakehouse) -> None:
    key = os.urandom(32)
    name, value = _name(), _value()
    LocalVault(lakehouse, key=key).put(name, value)
    assert LocalVault(lakehouse, key=key).get(name).reveal() == value


# --- SecretValue ----------------------------------------------------------------------------------


def test_a_secret_value_never_shows_itself(caplog: pytest.LogCaptureFixture) -> None:
    value = _value()
    secret = SecretValue(value)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>60}"]
    assert set(shown) == {"SecretValue('***')"}
    assert repr({"password": secret}) == "{'password': SecretValue('***')}"
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.info("connecting with %s and %r", secret, secret)
        logger.info("config: %s", {"token": secret})
    assert value not in caplog.text
    assert "SecretValue('***')" in caplog.text


def test_an_exception_chain_around_a_secret_does_not_leak(caplog: pytest.LogCaptureFixture) -> None:
    value = _value()
    secret = SecretValue(value)
    with caplog.at_level(logging.ERROR, logger=logger.name):
        try:
            try:
                raise KeyError(secret)
            except KeyError as inner:
                raise ConfigError(f"the source refused {secret}") from inner
        except ConfigError as outer:
            logger.exception("connector run failed with %s", secret)
            formatted = _formatted(outer)
    assert "KeyError" in caplog.text and "ConfigError" in caplog.text
    assert value not in caplog.text
    assert value not in formatted


def test_a_secret_value_is_not_picklable_and_compares_by_value() -> None:
    value = _value()
    secret = SecretValue(value)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        hash(secret)
    assert secret == SecretValue(value)
    assert secret != SecretValue(value + "x")
    assert secret != value  # a SecretValue is not a str
    assert copy.copy(secret) is secret and copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        SecretValue(value.encode())  # type: ignore[arg-type]


# --- Supabase Vault -------------------------------------------------------------------------------

# A stand-in for the supabase_vault extension (0.3.x), so the SupabaseVault path runs against a
# real PostgreSQL without the extension's C code: the same function signatures, view columns and
# grants to service_role as Supabase installs them, but the value is kept as plain text in
# `secret` (the extension would encrypt it). It stands in for the extension, not for Postgres.
SUPABASE_VAULT_STAND_IN = """
CREATE SCHEMA vault;
CREATE TABLE vault.secrets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text,
  description text NOT NULL DEFAULT '',
  secret text NOT NULL,
  key_id uuid,
  nonce bytea,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX ON vault.secrets USING btree (name) WHERE name IS NOT NULL;
CREATE VIEW vault.decrypted_secrets AS
  SELECT s.id, s.name, s.description, s.secret, s.secret AS decrypted_secret,
         s.key_id, s.nonce, s.created_at, s.updated_at
    FROM vault.secrets s;

CREATE FUNCTION vault.create_secret(
  new_secret text, new_name text = NULL, new_description text = '', new_key_id uuid = NULL
) RETURNS uuid SECURITY DEFINER LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  new_id uuid;
BEGIN
  INSERT INTO vault.secrets (secret, name, description)
  VALUES (new_secret, new_name, new_description) RETURNING id INTO new_id;
  RETURN new_id;
END
$$;

CREATE FUNCTION vault.update_secret(
  secret_id uuid, new_secret text = NULL, new_name text = NULL, new_description text = NULL,
  new_key_id uuid = NULL
) RETURNS void SECURITY DEFINER LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  UPDATE vault.secrets s
     SET secret = coalesce(new_secret, s.secret),
         name = coalesce(new_name, s.name),
         description = coalesce(new_description, s.description),
         updated_at = now()
   WHERE s.id = secret_id;
END
$$;

REVOKE ALL ON FUNCTION vault.create_secret, vault.update_secret FROM PUBLIC;
GRANT USAGE ON SCHEMA vault TO service_role;
GRANT SELECT, DELETE ON vault.secrets, vault.decrypted_secrets TO service_role;
GRANT EXECUTE ON FUNCTION vault.create_secret, vault.update_secret TO service_role;
"""


@pytest.fixture(scope="module")
def supabase_url(new_database: Callable[[], str]) -> str:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
        conn.execute(SUPABASE_VAULT_STAND_IN)
    return url


@pytest.fixture(scope="module")
def supabase_lakehouse(
    supabase_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lakehouse]:
    with Lakehouse.open(make_settings(supabase_url, tmp_path_factory.mktemp("sb"))) as lh:
        yield lh


def test_open_vault_picks_supabase_vault_and_round_trips(
    supabase_lakehouse: Lakehouse, supabase_url: str
) -> None:
    vault = open_vault(supabase_lakehouse)
    assert isinstance(vault, SupabaseVault)
    name, old, new = _name(), _value(), _value()
    vault.put(name, old, description="on Supabase")
    assert vault.get(name).reveal() == old
    vault.put(name, new)
    assert vault.get(name).reveal() == new
    with psycopg.connect(supabase_url) as conn:
        rows = conn.execute(
            "SELECT description FROM vault.secrets WHERE name = %s", [name]
        ).fetchall()
        local = conn.execute("SELECT count(*) FROM public.ipai_vault_secret").fetchone()
    assert rows == [("on Supabase",)]
    assert local == (0,)  # nothing went to the local vault
    assert [i.description for i in vault.list() if i.name == name] == ["on Supabase"]
    assert new not in repr(vault.list())


def test_supabase_vault_resolves_deletes_and_reports_unknown_names(
    supabase_lakehouse: Lakehouse,
) -> None:
    vault = open_vault(supabase_lakehouse)
    values = {_name(): _value() for _ in range(2)}
    for name, value in values.items():
        vault.put(name, value)
    assert {n: v.reveal() for n, v in vault.resolve(list(values)).items()} == values
    gone = next(iter(values))
    vault.delete(gone)
    with pytest.raises(NotFound) as caught:
        vault.get(gone)
    assert caught.value.name == gone
    with pytest.raises(NotFound):
        vault.delete(gone)


def test_a_database_error_does_not_quote_the_failing_row(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    """Postgres's DETAIL line quotes a failing row; the vault passes on only the primary message."""
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
        conn.execute(SUPABASE_VAULT_STAND_IN)
        conn.execute("ALTER TABLE vault.secrets ADD CONSTRAINT short CHECK (length(secret) < 8)")
    value = _value()
    with Lakehouse.open(make_settings(url, tmp_path)) as lh, pytest.raises(DatabaseError) as caught:
        open_vault(lh).put(_name(), value)
    assert "violates check constraint" in str(caught.value)
    assert value not in _formatted(caught.value)


# --- the CLI --------------------------------------------------------------------------------------


CliRun = Callable[..., tuple[int, str]]
CLI_KEY = os.urandom(32)


@pytest.fixture
def run_cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRun]:
    """`ipai secrets <args>` in-process, configured through IPAI_* variables like a shell."""
    for key in [k for k in os.environ if k.startswith("IPAI_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("IPAI_DATABASE_URL", database_url)
    monkeypatch.setenv("IPAI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IPAI_JWT_SECRET", TEST_JWT_SECRET)
    monkeypatch.setenv("IPAI_VAULT_KEY", _b64(CLI_KEY))
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, value: str | None = None, stdin: str | None = None) -> tuple[int, str]:
        env = {"IPAI_SECRET_VALUE": value} if value is not None else {}
        result = runner.invoke(secrets_cli.app, list(args), input=stdin, env=env)
        return result.exit_code, result.output

    yield run
    get_settings.cache_clear()


def test_cli_never_prints_a_value(run_cli: CliRun, lakehouse: Lakehouse) -> None:
    name, value = _name(), _value()
    outputs = []
    for args, kwargs in [
        (("set", name, "--description", "from the CLI"), {"value": value}),
        (("list",), {}),
        (("list", "--json"), {}),
        (("set", name, "--from-stdin"), {"stdin": value + "\n"}),
        (("set", name), {"stdin": f"{value}\n{value}\n"}),  # the hidden prompt, confirmed
    ]:
        code, output = run_cli(*args, **kwargs)
        assert code == 0, output
        outputs.append(output)
    assert name in outputs[1] and name in outputs[2] and "from the CLI" in outputs[2]
    assert all(value not in output for output in outputs)
    assert LocalVault(lakehouse, key=CLI_KEY).get(name).reveal() == value
    code, output = run_cli("delete", name, "--yes")
    assert code == 0, output
    assert name not in run_cli("list")[1]


def test_cli_takes_the_value_from_stdin_exactly(run_cli: CliRun, lakehouse: Lakehouse) -> None:
    name, value = _name(), _value() + " with spaces "
    code, output = run_cli("set", name, "--from-stdin", stdin=value + "\n")
    assert code == 0, output
    assert LocalVault(lakehouse, key=CLI_KEY).get(name).reveal() == value


def test_cli_has_no_value_argument(run_cli: CliRun, lakehouse: Lakehouse) -> None:
    name = _name()
    code, _ = run_cli("set", name, _value())
    assert code == 2  # a usage error: values never travel as arguments (shell history, ps)
    with pytest.raises(NotFound):
        LocalVault(lakehouse, key=CLI_KEY).get(name)


# --- helpers --------------------------------------------------------------------------------------


def _formatted(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _with_key(settings: Settings, key: str) -> Settings:
    return settings.model_copy(update={"vault_key": SecretStr(key)})
