"""The workspace's Streamlit entry point: page config, who is signed in, the sidebar and the
navigation. Signed-in users get Home, Catalog, Connectors and Explorer, an "Apps" section with
the apps their roles allow and, for admins, an "Admin" section (`navigation`); everybody else
one "Sign in" page that sends them to the form at `/auth/login` (a plain link: the form posts to
our route, not to Streamlit).

Served by `ipai_core.workspace.server`; pages live in `views/` and only lay out widgets. (Not
`pages/`: Streamlit treats a `pages/` folder beside the entry point as its older multipage
scheme, and a deep link such as `/catalog` would then run that page without this navigation.)
"""

from __future__ import annotations

import streamlit as st

from ipai_core.db.principal import Principal
from ipai_core.observability import observe
from ipai_core.observability.dashboard import can_observe
from ipai_core.workspace import identity, navigation
from ipai_core.workspace.routes import LOGIN_PATH, LOGOUT_PATH
from ipai_core.workspace.ui import link, plain


def sign_in() -> None:
    st.title("Sign in to IPAI Databricks")
    st.markdown(
        "The workspace shows the lakehouse (its bronze, silver, gold and platinum schemas and "
        "the control plane) as **your account** sees it: every read runs under your own grants "
        "and row-level security."
    )
    st.html(link(LOGIN_PATH, "Sign in", primary=True))
    st.caption("No account yet? An admin creates one with `ipai users add EMAIL --role ROLE`.")


def sidebar(principal: Principal) -> None:
    with st.sidebar:
        st.caption("Signed in as")
        st.text(principal.email or principal.label)
        if principal.roles:
            st.markdown(" ".join(f":blue-badge[{plain(r)}]" for r in principal.roles))
        else:
            st.caption("No roles yet: an admin grants them with `ipai users grant`.")
        st.html(link(LOGOUT_PATH, "Sign out", primary=False))


# An emoji favicon is drawn locally; a `:material/…:` one (also a page's icon, when page_icon is
# unset) would make the browser fetch it from fonts.gstatic.com, and the workspace stays offline.
st.set_page_config(page_title="IPAI Databricks", page_icon="🧱", layout="wide")

principal = identity.current_principal()
if principal is None:
    st.navigation(
        [st.Page(sign_in, title="Sign in", icon=":material/login:", url_path="sign-in")]
    ).run()
else:
    sidebar(principal)
    sections = {
        "Workspace": [
            st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
            st.Page("views/catalog.py", title="Catalog", icon=":material/table_view:"),
            st.Page("views/connectors.py", title="Connectors", icon=":material/cable:"),
            st.Page("views/explorer.py", title="Explorer", icon=":material/search:"),
        ],
        "Apps": navigation.app_pages(principal),
        "Operations": [
            st.Page("views/observability.py", title="Observability", icon=":material/monitoring:")
        ]
        if can_observe(principal)
        else [],
        "Admin": navigation.admin_pages(principal),
    }
    page = st.navigation({section: pages for section, pages in sections.items() if pages})
    with observe.page_load("workspace", page.url_path or "home", user=principal.email):
        page.run()
