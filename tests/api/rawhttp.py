"""Send a request line exactly as written: HTTP clients normalise `..` and encodings."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


async def raw_request(base_url: str, method: str, target: bytes,
                      headers: dict[str, str]) -> int:
    """The status code the server answers to `METHOD target HTTP/1.1`."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        lines = [method.encode() + b" " + target + b" HTTP/1.1",
                 f"Host: {parts.netloc}".encode(), b"Connection: close",
                 *(f"{k}: {v}".encode() for k, v in headers.items())]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()
