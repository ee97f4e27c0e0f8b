"""An app's manifest, `apps/<slug>/app.toml`, and how the apps folder is discovered.

    slug = "ipai-finance-command-center"   # equals the folder name
    name = "Finance Command Center"
    description = "P&L, balance sheet, cash flow, aging, reconciliation."
    icon = ":material/account_balance:"
    entry_point = "app.py"                 # a Streamlit script inside the folder
    required_roles = ["finance", "auditor"]  # empty: any signed-in user; admin always allowed
    [flags]
    llm_explanations = { default = false, description = "Explain matches with the LLM" }

Loading validates everything up front (unknown keys included), so a typo fails at `ipai apps
register` with the file and the field named, not at the first page view.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ipai_core.errors import ConfigError

MANIFEST_FILE = "app.toml"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
ROLE_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
FLAG_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class FlagSpec(BaseModel):
    """A feature flag the app reads, with the value it has when no row in
    `public.ipai_feature_flag` applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: bool
    description: str = ""


class AppManifest(BaseModel):
    """What `app.toml` declares. `folder` is where it was read from (not part of the file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(pattern=SLUG_PATTERN, max_length=63)
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    icon: str | None = None
    entry_point: str = "app.py"
    required_roles: tuple[str, ...] = ()
    flags: dict[str, FlagSpec] = Field(default_factory=dict)
    folder: Path | None = Field(default=None, exclude=True)

    @field_validator("entry_point")
    @classmethod
    def _inside_folder(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or path.suffix != ".py":
            raise ValueError("must be a relative path to a .py file inside the app folder")
        return value

    @field_validator("required_roles")
    @classmethod
    def _role_names(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in roles if not _matches(ROLE_PATTERN, r)]
        if bad:
            raise ValueError(f"role names are lower_snake_case, got {bad}")
        return tuple(sorted(set(roles)))

    @field_validator("flags")
    @classmethod
    def _flag_names(cls, flags: dict[str, FlagSpec]) -> dict[str, FlagSpec]:
        bad = [f for f in flags if not _matches(FLAG_PATTERN, f)]
        if bad:
            raise ValueError(f"flag names are lower_snake_case, got {bad}")
        return flags

    @property
    def entry_path(self) -> Path:
        """The entry point's absolute path (the manifest must have been loaded from a folder)."""
        if self.folder is None:
            raise ConfigError(f"app `{self.slug}` was not loaded from a folder; use load_manifest")
        return self.folder / self.entry_point

    def registry_config(self) -> dict[str, object]:
        """The `config` document stored with the app in `public.ipai_app_registry`."""
        return {"icon": self.icon, "flags": {k: v.model_dump() for k, v in self.flags.items()}}


def load_manifest(folder: Path) -> AppManifest:
    """Read and validate `folder/app.toml`; the slug must equal the folder's name and the entry
    point must exist. Raises `ConfigError` naming the file and what to fix."""
    path = folder / MANIFEST_FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"`{path}` does not exist; every app folder needs an app.toml") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"`{path}` is not valid TOML: {exc}") from exc
    try:
        manifest = AppManifest.model_validate({**document, "folder": folder.resolve()})
    except ValidationError as exc:
        raise ConfigError(f"`{path}` is not a valid app manifest:\n{_explain(exc)}") from exc
    if manifest.slug != folder.name:
        raise ConfigError(
            f"`{path}` declares slug `{manifest.slug}` but its folder is `{folder.name}`; "
            "rename one so they match"
        )
    if not manifest.entry_path.is_file():
        raise ConfigError(
            f"`{path}` names entry point `{manifest.entry_point}`, which does not exist in "
            f"`{folder}`; create it or fix entry_point"
        )
    return manifest


def discover(apps_dir: Path) -> list[AppManifest]:
    """Every app under `apps_dir` (folders holding an app.toml), sorted by slug. A missing
    folder holds no apps. Each slug equals its folder's name, so no two apps share one."""
    if not apps_dir.is_dir():
        return []
    return [load_manifest(f.parent) for f in sorted(apps_dir.glob(f"*/{MANIFEST_FILE}"))]


def find_app(apps_dir: Path, slug: str) -> AppManifest:
    """The app `slug` of `apps_dir`; an unknown slug lists the known ones."""
    folder = apps_dir / slug
    if _matches(SLUG_PATTERN, slug) and (folder / MANIFEST_FILE).is_file():
        return load_manifest(folder)
    known = ", ".join(m.slug for m in discover(apps_dir)) or "none"
    raise ConfigError(f"no app `{slug}` in `{apps_dir}` (apps there: {known})")


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _explain(exc: ValidationError) -> str:
    return "\n".join(
        f"  - {'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}"
        for err in exc.errors()
    )
