"""Only allowlisted headers cross the BFF, in either direction."""

from __future__ import annotations

from service.api.headers import request_headers, response_headers


def test_browser_credentials_and_hop_by_hop_headers_never_reach_looker() -> None:
    raw = [(b"cookie", b"session=abc"), (b"authorization", b"Bearer browser"),
           (b"origin", b"http://spa"), (b"host", b"bff"), (b"connection", b"keep-alive"),
           (b"transfer-encoding", b"chunked"), (b"x-forwarded-for", b"1.2.3.4"),
           (b"x-csrf", b"1"), (b"accept", b"application/json"),
           (b"content-type", b"application/json"), (b"if-none-match", b'"v1"'),
           (b"accept-language", b"de")]
    assert request_headers(raw) == {"accept": "application/json",
                                    "content-type": "application/json",
                                    "if-none-match": '"v1"', "accept-language": "de"}


def test_repeated_request_headers_are_joined() -> None:
    assert request_headers([(b"Accept", b"a"), (b"accept", b"b")]) == {"accept": "a, b"}


def test_looker_cookies_and_hop_by_hop_headers_never_reach_the_browser() -> None:
    upstream = [("Set-Cookie", "looker=1"), ("Connection", "keep-alive"),
                ("Transfer-Encoding", "chunked"), ("Content-Type", "text/csv"),
                ("Content-Disposition", "attachment; filename=x.csv"), ("Retry-After", "3"),
                ("ETag", '"v2"'), ("Cache-Control", "no-cache"), ("Server", "looker"),
                ("Content-Length", "10")]
    assert response_headers(upstream) == [
        (b"content-type", b"text/csv"),
        (b"content-disposition", b"attachment; filename=x.csv"),
        (b"retry-after", b"3"), (b"etag", b'"v2"'),
        (b"cache-control", b"private, no-store"), (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy",
         b"sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")]


def test_json_results_are_not_sandboxed_but_never_cached_by_others() -> None:
    headers = dict(response_headers([("Content-Type", "application/json"),
                                     ("Cache-Control", "public, max-age=600")]))
    assert headers[b"cache-control"] == b"private, no-store"
    assert b"content-security-policy" not in headers
