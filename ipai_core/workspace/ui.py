"""Small pieces of page markup shared by the workspace and the apps runtime."""

from __future__ import annotations

_MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~:$")


def plain(text: str) -> str:
    """`text` with markdown (and Streamlit's `:shortcode:`) characters escaped."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in text)


def link(href: str, label: str, *, primary: bool) -> str:
    """An anchor that opens in this tab (Streamlit's link buttons always open a new one)."""
    colours = "background:#ff3621;color:#fff;" if primary else "color:inherit;"
    return (
        f'<a href="{href}" style="{colours}display:inline-block;padding:.45rem 1.1rem;'
        "border:1px solid rgba(128,128,128,.35);border-radius:.5rem;text-decoration:none;"
        f'font-weight:600">{label}</a>'
    )
