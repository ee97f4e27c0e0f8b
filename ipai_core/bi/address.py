"""Where a BI tool connects: the workspace database's host, port and name, with the BI login as
user, as a libpq URL (`psql`, Metabase's fields) and as a SQLAlchemy URI (Superset). Pure: it only
reads the owner's URL, never connects."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ConnectionAddress:
    host: str
    port: int
    dbname: str
    sslmode: str
    tenant: str = ""  # Supabase's pooler routes `role.tenant`; kept from the owner's user name

    def user(self, login_role: str) -> str:
        return f"{login_role}.{self.tenant}" if self.tenant else login_role

    def url(
        self, login_role: str, password: str | None = None, *, scheme: str = "postgresql"
    ) -> str:
        """`scheme://user[:password]@host:port/db?sslmode=…` (the password URL-encoded)."""
        secret = f":{quote(password, safe='')}" if password is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (
            f"{scheme}://{quote(self.user(login_role), safe='.')}{secret}@{host}:{self.port}/"
            f"{quote(self.dbname, safe='')}?sslmode={self.sslmode}"
        )

    def sqlalchemy_url(self, login_role: str, password: str | None = None) -> str:
        """The URI Superset asks for (SQLAlchemy with the psycopg 3 driver)."""
        return self.url(login_role, password, scheme="postgresql+psycopg")


def address_of(owner_url: str, *, sslmode: str | None = None) -> ConnectionAddress:
    """The address of the database `owner_url` names. `sslmode`: as given, else the URL's own,
    else `disable` on this machine (the embedded server has no TLS) and `require` elsewhere."""
    params = conninfo_to_dict(owner_url)
    host = str(params.get("host") or params.get("hostaddr") or "localhost").split(",")[0]
    user = str(params.get("user") or "")
    default_mode = "disable" if host in LOCAL_HOSTS else "require"
    return ConnectionAddress(
        host=host,
        port=int(str(params.get("port") or 5432).split(",")[0]),
        dbname=str(params.get("dbname") or user or "postgres"),
        sslmode=sslmode or str(params.get("sslmode") or default_mode),
        tenant=user.partition(".")[2],
    )
