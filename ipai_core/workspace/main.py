"""The workspace's Streamlit entry point: page config, who is signed in, the sidebar and the
navigation. Signed-in users get Home, Catalog, Connectors and Explorer; everybody else one
"Sign in" page that sends them to the form at `/auth/login` (a plain link: the form posts to
our route, not to Streamlit).

Served by `ipai_core.workspace.server`; pages live in `pages/` and only lay out widgets.
"""

from __future__ import annotations

import streamlit as st

from ipai_core.db.principal import Principal
from ipai_core.workspace import identity
from ipai_core.workspace.routes import LOGIN_PATH, LOGOUT_PATH

_MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~:$")


def _plain(text: str) -> str:
    """`text` with markdown (and Streamlit's `:shortcode:`) characters escaped."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in text)


def _link(href: str, label: str, *, primary: bool) -> str:
    """An anchor that opens in this tab (Streamlit's link buttons always open a new one)."""
    colours = "background:#ff3621;color:#fff;" if primary else "color:inherit;"
    return (
        f'<a href="{href}" style="{colours}display:inline-block;padding:.45rem 1.1rem;'
        "border:1px solid rgba(128,128,128,.35);border-radius:.5rem;text-decoration:none;"
        f'font-weight:600">{label}</a>'
    )


def sign_in() -> None:
    st.title("Sign in to IPAI Databricks")
    st.markdown(
        "The workspace shows the lakehouse (its bronze, silver, gold and platinum schemas and "
        "the control plane) as **your account** sees it: every read runs under your own grants "
        "and row-level security."
    )
    st.html(_link(LOGIN_PATH, "Sign in", primary=True))
    st.caption("No account yet? An admin creates one with `ipai users add EMAIL --role ROLE`.")


def sidebar(principal: Principal) -> None:
    with st.sidebar:
        st.caption("Signed in as")
        st.text(principal.email or principal.label)
        if principal.roles:
            st.markdown(" ".join(f":blue-badge[{_plain(r)}]" for r in principal.roles))
        else:
            st.caption("No roles yet: an admin grants them with `ipai users grant`.")
        st.html(_link(LOGOUT_PATH, "Sign out", primary=False))


# An emoji favicon is drawn locally; a `:material/…:` one (also a page's icon, when page_icon is
# unset) would make the browser fetch it from fonts.gstatic.com, and the workspace stays offline.
st.set_page_config(page_title="IPAI Databricks", page_icon="🧱", layout="wide")

principal = identity.current_principal()
if principal is None:
    pages = [st.Page(sign_in, title="Sign in", icon=":material/login:", url_path="sign-in")]
else:
    sidebar(principal)
    pages = [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/catalog.py", title="Catalog", icon=":material/table_view:"),
        st.Page("pages/connectors.py", title="Connectors", icon=":material/cable:"),
        st.Page("pages/explorer.py", title="Explorer", icon=":material/search:"),
    ]
st.navigation(pages).run()
