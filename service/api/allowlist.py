"""`PROXY_ALLOW`: which Looker API calls the generic pass-through may make.

Each pattern is `METHODS PATH` (allow) or `!METHODS PATH` (deny):

* `METHODS` is `*` or methods joined by `|`: `GET`, `GET|POST`.
* `PATH` is relative to `/api/4.0/`, segments separated by `/`. `*` alone matches exactly
  one segment, `*` inside a segment matches any run of characters within it
  (`credentials_*`), `**` matches any number of segments, including none.
* Matching ignores case, and a deny pattern also matches a path whose segments are cut at
  their first `.` (`credentials_email.json` is denied like `credentials_email`), so a
  spelling Looker would route the same way cannot slip past a deny.

A call is allowed when at least one allow pattern matches and no deny pattern does. Order
does not matter, so adding an allow can never reopen something a deny closes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Rule:
    deny: bool
    methods: frozenset[str]
    path: re.Pattern[str]
    text: str


def _segment_regex(segment: str) -> str:
    if segment == "**":
        return "(?:[^/]+/)*"
    if segment == "*":
        return "[^/]+/"
    return "[^/]*".join(re.escape(part) for part in segment.split("*")) + "/"


def parse_rule(text: str) -> Rule:
    """One pattern; ValueError with a readable reason when it is malformed."""
    words = text.split()
    if len(words) != 2:
        raise ValueError(f"{text!r}: expected 'METHODS PATH', e.g. 'GET looks/*'")
    methods_word, path = words
    deny = methods_word.startswith("!")
    methods_word = methods_word.removeprefix("!").upper()
    methods = METHODS if methods_word == "*" else frozenset(methods_word.split("|"))
    unknown = methods - METHODS
    if unknown or not methods:
        raise ValueError(f"{text!r}: unknown method {', '.join(sorted(unknown)) or '(none)'}")
    segments = path.strip("/").lower().split("/")
    if any(not s or s in (".", "..") or ("**" in s and s != "**") for s in segments):
        raise ValueError(f"{text!r}: empty, '.', '..' or misplaced '**' segment")
    regex = "".join(_segment_regex(s) for s in segments)
    return Rule(deny, methods, re.compile(regex), text)


def pattern_problems(patterns: list[str]) -> list[str]:
    """For start-up validation: one line per malformed PROXY_ALLOW entry."""
    problems = []
    for pattern in patterns:
        try:
            parse_rule(pattern)
        except ValueError as exc:
            problems.append(f"PROXY_ALLOW: {exc}")
    return problems


class ProxyPolicy:
    def __init__(self, patterns: list[str]) -> None:
        rules = [parse_rule(p) for p in patterns]
        self._allow = [r for r in rules if not r.deny]
        self._deny = [r for r in rules if r.deny]

    def allows(self, method: str, segments: list[str]) -> bool:
        method = method.upper()
        lowered = [s.lower() for s in segments]
        path = "/".join(lowered) + "/"
        stems = "/".join(s.split(".", 1)[0] or s for s in lowered) + "/"
        if not any(method in r.methods and r.path.fullmatch(path) for r in self._allow):
            return False
        return not any(
            method in r.methods and (r.path.fullmatch(path) or r.path.fullmatch(stems))
            for r in self._deny
        )
