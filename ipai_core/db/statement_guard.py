"""Refuses statements that would change who a scoped session is.

A session's identity is its `SET LOCAL ROLE` and its `request.jwt.claims`; both are set once by
`scoped.session` and nothing run inside may change them: no `SET ROLE` / `RESET ROLE` /
`SET SESSION AUTHORIZATION` / `RESET ALL`, no `set_config('role', …)` or
`set_config('request.jwt.claims', …)`, no `SET search_path` (which could put a temporary
function in front of a trusted one), and no `DO` block or `CREATE FUNCTION`/`PROCEDURE`, whose
bodies could build any of these from strings at run time. The database is the boundary (a login
role can only become what it was granted, see `logins`); this check is the second line, and the
only one for claims, which Postgres lets any role overwrite. Statements may still set the few
harmless settings in `ALLOWED_SETTINGS` (timeouts, read-only, index scan knobs) and the planner's
`enable_*` switches.

The scan is lexical: comments are dropped, dollar-quoted bodies are scanned again as SQL of their
own, string literals are values (never scanned), and `SET` / `DO` count as commands only where a
statement can start (not `UPDATE … SET`, not `ON CONFLICT DO …`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ipai_core.errors import IdentityChangeRefused

ALLOWED_SETTINGS = frozenset(
    {
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "transaction_read_only",
        "transaction_isolation",
        "synchronous_commit",
        "work_mem",
        "hnsw.iterative_scan",
        "hnsw.ef_search",
        "ivfflat.probes",
        "timezone",
        "time",  # SET TIME ZONE
    }
)
# Keywords after which a new command starts inside a statement (PL/pgSQL bodies, rules).
_COMMAND_STARTS = frozenset({";", "begin", "then", "else", "loop", "also", "instead"})
# Commands whose bodies are code: refused outright where a command starts.
_CODE_COMMANDS = {"do": "DO", "function": "CREATE FUNCTION", "procedure": "CREATE PROCEDURE"}
# `SET TRANSACTION …`, `SET CONSTRAINTS …` and `SET LOCAL/SESSION <setting>` forms.
_SET_FORMS = frozenset({"transaction", "constraints"})

_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<line_comment>--[^\n]*)
    | (?P<block_comment>/\*)
    | (?P<string>[eE]?'(?:[^'\\]|''|\\.)*')
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$)
    | (?P<ident>"(?:[^"]|"")*")
    | (?P<word>[A-Za-z_][A-Za-z0-9_$.]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def check_statement(text: str, *, principal: str) -> None:
    """Raise `IdentityChangeRefused` when `text` would change the session's role or claims."""
    tokens = list(_tokens(text))
    for i, word in enumerate(tokens):
        previous = tokens[i - 1] if i else ";"
        following = tokens[i + 1 : i + 4]
        refused = None
        starts = previous in _COMMAND_STARTS
        if word in ("set", "reset") and starts:
            refused = _refused_set(word, following)
        elif word == "do" and starts:
            refused = _CODE_COMMANDS["do"]
        elif word == "create" and starts:
            words = [w for w in following if w not in ("or", "replace")]
            refused = _CODE_COMMANDS.get(words[0]) if words else None
        elif word.rsplit(".", 1)[-1] == "set_config":
            refused = _refused_set_config(following)
        if refused:
            raise IdentityChangeRefused(
                f"`{refused}` would change the session's role or identity, which no statement "
                "may do; a session runs as the principal it was opened for",
                principal=principal,
                statement=" ".join(text.split())[:200],
            )


def _allowed(name: str | None) -> bool:
    """A timeout or knob of `ALLOWED_SETTINGS`, or a planner switch (`enable_seqscan`, …)."""
    return name is not None and (name in ALLOWED_SETTINGS or name.startswith("enable_"))


def _refused_set(command: str, following: list[str]) -> str | None:
    words = [w for w in following if w not in ("local", "session")]
    name = words[0] if words else ""
    if (command == "set" and name in _SET_FORMS) or _allowed(name):
        return None
    return f"{command.upper()} {name}"


def _refused_set_config(following: list[str]) -> str | None:
    if not following or following[0] != "(":
        return None  # a column or alias named set_config, not a call
    literal = following[1] if len(following) > 1 else ""
    name = literal[1:-1].lower() if literal.startswith("'") else None
    return None if _allowed(name) else f"set_config({literal} …)"


def _tokens(text: str) -> Iterator[str]:
    """Lower-cased words, `(`/`;` and other characters, and single-quoted literals as written;
    the contents of dollar-quoted bodies are also yielded, tokenised as SQL."""
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # pragma: no cover - `.` matches any character
            return
        pos = match.end()
        kind = match.lastgroup
        if kind in ("ws", "line_comment"):
            continue
        if kind == "block_comment":
            pos = _end_of_block_comment(text, pos)
        elif kind == "string":
            literal = match.group()
            yield literal[1:] if literal[0] in "eE" else literal
        elif kind == "dollar":
            end = text.find(match.group(), pos)
            body_end = len(text) if end < 0 else end
            yield from _nested(text[pos:body_end])
            pos = len(text) if end < 0 else end + len(match.group())
        elif kind == "ident":
            yield match.group()[1:-1].replace('""', '"').lower()
        else:
            yield match.group().lower()


def _nested(body: str) -> Iterator[str]:
    yield ";"  # a body is SQL of its own: its first word starts a command
    yield from _tokens(body)
    yield ";"


def _end_of_block_comment(text: str, pos: int) -> int:
    """Block comments nest in PostgreSQL; returns the position after the matching `*/`."""
    depth = 1
    while depth and pos < len(text):
        if text.startswith("/*", pos):
            depth, pos = depth + 1, pos + 2
        elif text.startswith("*/", pos):
            depth, pos = depth - 1, pos + 2
        else:
            pos += 1
    return pos
