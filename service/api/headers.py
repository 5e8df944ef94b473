"""Which headers cross the BFF, in each direction. Allowlists, never denylists.

Towards Looker: content negotiation and conditional requests only. The browser's cookies,
`Authorization`, `Origin`, `Host`, hop-by-hop and forwarding headers never pass; the
client adds the bearer token and the request id itself.

Towards the browser: what describes the body and its caching. Never `Set-Cookie` (Looker's
cookies belong to no browser of ours), hop-by-hop headers or `Content-Length` of a body we
may re-frame (the server frames what it sends).
"""

from __future__ import annotations

from collections.abc import Iterable

REQUEST_HEADERS = frozenset({
    "accept", "accept-encoding", "accept-language", "content-type", "if-none-match",
    "if-modified-since", "if-match", "if-unmodified-since", "cache-control",
})

RESPONSE_HEADERS = frozenset({
    "content-type", "content-disposition", "content-encoding", "content-language",
    "retry-after", "etag", "last-modified", "vary",
})

# One user's Looker data: never stored by a shared cache or CDN, never sniffed into
# something executable, and a non-JSON result (html, svg…) renders with no script and no
# access to this origin even when opened directly.
_ALWAYS = [(b"cache-control", b"private, no-store"), (b"x-content-type-options", b"nosniff")]
_SANDBOX = (b"content-security-policy", b"sandbox; default-src 'none'; img-src data:; "
                                        b"style-src 'unsafe-inline'")


def request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The allowlisted request headers of an ASGI scope, ready for the upstream call."""
    kept: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        if key in REQUEST_HEADERS:
            text = value.decode("latin-1")
            kept[key] = f"{kept[key]}, {text}" if key in kept else text
    return kept


def response_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """The allowlisted Looker response headers, as raw ASGI header pairs, plus ours."""
    kept = [
        (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
        for name, value in upstream
        if name.lower() in RESPONSE_HEADERS
    ]
    content_type = next((v for n, v in kept if n == b"content-type"), b"")
    extra = [] if content_type.startswith(b"application/json") else [_SANDBOX]
    return [*kept, *_ALWAYS, *extra]
