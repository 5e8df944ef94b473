"""Turn the raw request path of `/api/looker/{path}` into a safe Looker API path.

The upstream URL is rebuilt from validated segments only, so whatever the client sent, the
request can only reach `LOOKER_API_URL/api/4.0/`. We read the path exactly as the client
sent it (`scope["raw_path"]`), because the decoded `scope["path"]` has already turned
`%2f` into `/` and hides the difference between `a%2Fb` and `a/b`.

A path is refused (None) when it is empty or too long, or when any segment is empty
(`//`, a trailing `/`, `http://host`), is `.` or `..` in any spelling (`%2e%2e`, `.%2E`),
or decodes to anything outside a conservative character set: no `/` or `\\` (so no `%2f`
or `%5c`), no `%` (so no double encoding), no control characters, NUL, spaces or `;`.
Looker's own path segments (`looks`, `123`, `thelook::sales`, `json_detail`) all pass.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

PROXY_PREFIX = b"/api/looker/"
MAX_PATH_BYTES = 2048
MAX_SEGMENTS = 32
# After percent-decoding: RFC 3986 unreserved characters plus ':' ',' '=' '+' '@'.
# None of them needs encoding in a path segment, so a valid segment is sent on verbatim.
_SEGMENT = re.compile(rb"[A-Za-z0-9._~:,=+@-]+")


def segments_of(raw_path: bytes) -> list[str] | None:
    """Validated segments of the part after `/api/looker/`, or None when it is unsafe."""
    if not raw_path.startswith(PROXY_PREFIX) or len(raw_path) > MAX_PATH_BYTES:
        return None
    rest = raw_path[len(PROXY_PREFIX):]
    if not rest:
        return None
    parts = rest.split(b"/")
    if len(parts) > MAX_SEGMENTS:
        return None
    segments: list[str] = []
    for part in parts:
        decoded = unquote_to_bytes(part)
        if not _SEGMENT.fullmatch(decoded) or decoded in (b".", b".."):
            return None
        segments.append(decoded.decode("ascii"))
    return segments


def looker_path(raw_path: bytes) -> str | None:
    """The safe path to append to `/api/4.0/`, or None when the request must be refused."""
    segments = segments_of(raw_path)
    return "/".join(segments) if segments is not None else None
