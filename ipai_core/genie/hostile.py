"""Requests Genie refuses before planning: changing data or schema, reaching for credentials or
secrets, raising one's own privileges, or telling Genie to set its rules aside.

Genie only ever reads, under the asker's RLS, so none of these could succeed anyway; refusing
them by name (instead of answering the nearest question the words happen to fit, e.g. a count
for "drop table aging") is what tells the user their request was understood and declined.
"""

from __future__ import annotations

import re

from ipai_core.genie.plan import Refusal

_WRITE_VERB = r"drop|truncate|alter|delete|remove|erase|wipe|update|insert|overwrite|grant|revoke"
_IMPERATIVE = (  # a question that starts with one of these asks Genie to do something
    rf"{_WRITE_VERB}|change|modify|edit|rename|set|reset|mark|approve|cancel|void|create|kill"
    r"|disable|enable|post|reverse|write|upload|import|restore"
)
_WRITE_OBJECT = (
    r"table|tables|schema|schemas|database|view|views|column|row|rows|record|records|all|every|"
    r"the|this|these|those|from|into|role|roles|privileges?|permissions?|access|it|them|my|our"
)
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            rf"^\s*(?:please\s+|can you\s+|could you\s+)?(?:{_IMPERATIVE})\s+"
            rf"(?:{_WRITE_OBJECT}|a|an|that|user|users|[a-z_]+\.[a-z_]+)\b"
        ),
        "Genie only reads data; it never changes, creates or deletes anything",
    ),
    (
        re.compile(r"\bmark\b.*\bas\b|\b(?:insert|add)\b.*\b(?:into|to the)\b"),
        "Genie only reads data; it never changes, creates or deletes anything",
    ),
    (
        re.compile(rf"\b(?:{_WRITE_VERB})\s+(?:{_WRITE_OBJECT})\b"),
        "Genie only reads data; it never changes, creates or deletes anything",
    ),
    (
        re.compile(r"\b(?:update|set)\b.*\b(?:to|=)\s*[-\d]"),
        "Genie only reads data; it never changes values",
    ),
    (
        re.compile(r";\s*(?:select|drop|delete|update|insert|alter|grant|create)\b|--|/\*"),
        "that looks like SQL injected into a question; ask in plain words, or use free-SQL mode",
    ),
    (
        re.compile(
            r"\b(?:passwords?|passwd|password hash(?:es)?|hash(?:es|ed)?|secrets?|jwt"
            r"|api[\s_-]?keys?|access[\s_-]?keys?|tokens?|credentials?|private[\s_-]?keys?"
            r"|vault|encryption keys?"
            r"|connection strings?|pg_shadow|pg_authid|auth\.users|auth\s+users)\b"
        ),
        "credentials, tokens and secrets are never shown, to anybody",
    ),
    (
        re.compile(
            r"\b(?:make|give|grant|promote|add)\s+(?:me|my (?:user|account))\b.*"
            r"\b(?:admin|administrator|superuser|owner|root|role|access|rights|privileges?)\b"
        ),
        "roles are given by an admin (`ipai users add … --role`), not by asking Genie",
    ),
    (
        re.compile(
            r"\b(?:ignore|disregard|forget|bypass|override|skip)\s+(?:all\s+|any\s+|the\s+|your\s+"
            r"|previous\s+|prior\s+|above\s+|these\s+)*(?:rules?|instructions?|guard(?:rail)?s?"
            r"|polic(?:y|ies)|restrictions?|rls|row level security|security|limits?|prompt)"
        ),
        "Genie's rules and your row-level security always apply; they cannot be set aside",
    ),
    (
        re.compile(
            r"\b(?:row[- ]level security|rls|security|access control)\b.{0,30}"
            r"\b(?:disabled|off|turned off|lifted|suspended|bypassed)\b"
            r"|\b(?:disable|turn off|switch off|bypass|circumvent)\s+(?:the\s+)?"
            r"(?:row[- ]level security|rls|security|access control)\b"
            r"|\b(?:not|n't)\s+(?:allowed|permitted|authori[sz]ed|supposed)\s+to\s+"
            r"(?:see|view|read|access)\b"
        ),
        "your row-level security always applies; Genie cannot show what you may not read",
    ),
    (
        re.compile(
            r"\b(?:as|impersonat\w*|pretend (?:to be|you are))\s+(?:the\s+)?"
            r"(?:admin|superuser|postgres|service[_ ]role)\b"
        ),
        "Genie answers as you, under your own access; it cannot act as another user or role",
    ),
)


def refusal_for(question: str) -> Refusal | None:
    """The refusal for a hostile or out-of-scope request, or None for an ordinary question."""
    text = question.lower()
    for pattern, reason in _RULES:
        if pattern.search(text):
            return Refusal(f"{reason}. Ask a question about the data instead")
    return None
