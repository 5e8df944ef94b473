"""The raw-path table: what reaches Looker, and every traversal shape that must not."""

from __future__ import annotations

import pytest

from service.api.paths import looker_path

P = b"/api/looker/"


@pytest.mark.parametrize(("raw", "expected"), [
    (P + b"looks", "looks"),
    (P + b"looks/1/run/json", "looks/1/run/json"),
    (P + b"dashboards/thelook::sales", "dashboards/thelook::sales"),
    (P + b"queries/run/json_detail", "queries/run/json_detail"),
    (P + b"look%73/1", "looks/1"),  # encoded unreserved characters are fine
    (P + b"users/~me", "users/~me"),
])
def test_valid_paths_keep_their_segments(raw: bytes, expected: str) -> None:
    assert looker_path(raw) == expected


@pytest.mark.parametrize("raw", [
    P,                                   # nothing after the prefix
    P + b"..",
    P + b"looks/../users",
    P + b"looks/./1",
    P + b"%2e%2e/api/token",
    P + b"%2E%2E/x",
    P + b".%2e/x",
    P + b"%2e./x",
    P + b"looks/%2e%2e%2fusers",
    P + b"looks%2f..%2fusers",
    P + b"looks%2F1",
    P + b"looks%5c..%5cusers",
    P + b"looks\\..\\users",
    P + b"looks//1",
    P + b"/looks",                       # leading double slash
    P + b"looks/",                       # trailing slash: an empty segment
    P + b"http://evil.example/x",
    P + b"https:%2f%2fevil.example",
    P + b"//evil.example/x",
    P + b"looks%00",
    P + b"looks/1%0d%0aX-Injected:%201",
    P + b"looks/1\r\nX: y",
    P + b"looks/%09",
    P + b"looks/%7f",
    P + b"looks;jsessionid=1",
    P + b"looks/1%3Fx=1",                # an encoded '?' must not start a query
    P + b"looks/1%23frag",
    P + b"looks/%252e%252e",             # double encoding
    P + b"looks/%zz",
    P + b"looks/\xc3\xa9",               # non-ASCII
    P + b"looks/a b",
    P + b"a/" * 40,                      # too many segments
    P + b"a" * 3000,                     # too long
    b"/api/%6cooker/looks",              # the prefix itself spelled differently
    b"/api/looker",
])
def test_unsafe_paths_are_refused(raw: bytes) -> None:
    assert looker_path(raw) is None
