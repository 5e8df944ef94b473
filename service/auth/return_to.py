"""Where a login may send the browser back to: never anywhere an attacker chooses."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from service.config import Settings


def _has_control_or_backslash(value: str) -> bool:
    return "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)


def _has_dot_segment(value: str) -> bool:
    """`/./` and `/../` let a browser turn `/.//evil` into the path `//evil`."""
    path = value.split("?", 1)[0].split("#", 1)[0]
    return any(segment in (".", "..") for segment in path.split("/"))


def safe_return_to(value: str | None, settings: Settings) -> str:
    """A path on this service (`/x`, not `//x`) or a URL on an allowed SPA origin; else `/`.

    Checked on the raw value and on its percent-decodings, so `/%2F%2Fevil`, `/%5Cevil`
    and friends cannot turn into a scheme-relative URL in some browser or proxy.
    """
    if not value or len(value) > 2048:
        return "/"
    variants = [value]
    for _ in range(3):  # nested encodings: %252F -> %2F -> /
        decoded = unquote(variants[-1])
        if decoded == variants[-1]:
            break
        variants.append(decoded)
    else:
        if unquote(variants[-1]) != variants[-1]:
            return "/"  # still encoded after three rounds: nobody needs that
    if any(_has_control_or_backslash(v) or _has_dot_segment(v) for v in variants):
        return "/"
    if value.startswith("/"):
        return "/" if any(v.startswith("//") for v in variants) else value
    try:
        parts = urlsplit(value)
    except ValueError:
        return "/"
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username \
            or parts.password:
        return "/"
    if f"{parts.scheme}://{parts.netloc}".lower() in {o.lower() for o in settings.spa_origins}:
        return value
    return "/"
