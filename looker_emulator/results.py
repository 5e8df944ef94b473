"""Deterministic query results in Looker's result formats, plus the streamed large result."""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import date, timedelta
from html import escape
from typing import Any

import orjson

# Looker's result formats; anything else is a 400, as in Looker.
ALL_FORMATS = ("json", "json_bi", "json_detail", "csv", "txt", "html", "md", "xlsx", "sql",
               "png", "jpg")
# Formats the emulator renders (xlsx is knowingly unsupported: 400).
SUPPORTED = ("json", "json_bi", "json_detail", "csv", "txt", "html", "md", "sql", "png", "jpg")
STREAMED = ("json", "csv", "txt")
CONTENT_TYPES = {
    "json": "application/json", "json_bi": "application/json", "json_detail": "application/json",
    "csv": "text/csv; charset=utf-8", "txt": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
    "sql": "text/plain; charset=utf-8", "png": "image/png", "jpg": "image/jpeg",
}
MAX_ROWS = 50_000

# 1x1 images: enough for clients that only check content type and magic bytes.
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
JPG_1PX = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e33"
    "3432ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405"
    "060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107"
    "227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a4344"
    "45464748494a535455565758595a636465666768696a737475767778797a838485868788898a9293949596"
    "9798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3"
    "e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9")

_STATES = ["California", "Texas", "New York", "Florida", "Illinois", "Washington", "Oregon",
           "Georgia", "Ohio", "Colorado", "Massachusetts", "Arizona"]
_CITIES = ["Los Angeles", "Houston", "New York", "Miami", "Chicago", "Seattle", "Portland",
           "Atlanta", "Columbus", "Denver", "Boston", "Phoenix"]
_CATEGORIES = ["Jeans", "Tops & Tees", "Sweaters", "Outerwear & Coats", "Accessories",
               "Shorts", "Swim", "Sleep & Lounge", "Active", "Socks", "Dresses", "Suits"]
_NAMES = ["Classic Denim", "Wool Beanie", "Linen Shirt", "Rain Jacket", "Cotton Socks",
          "Slim Chinos", "Silk Scarf", "Running Shorts"]
_STATUSES = ["Complete", "Shipped", "Processing", "Returned", "Cancelled"]
_BASE = date(2024, 1, 1)
_MEASURE_HINTS = ("count", "total", "sum", "average", "revenue")


def is_measure(field: str) -> bool:
    name = field.rsplit(".", 1)[-1]
    return any(h in name for h in _MEASURE_HINTS)


def label(field: str) -> str:
    return field.replace(".", " ").replace("_", " ").title()


def cell(field: str, i: int) -> Any:
    name = field.rsplit(".", 1)[-1]
    if name.endswith("count"):
        return (i * 7919) % 997 + 1
    if "price" in name or "revenue" in name or "amount" in name:
        return round(((i * 104729) % 100_000) / 100 + 1, 2)
    if name.endswith("_month"):
        return f"{2022 + (i // 12) % 3}-{i % 12 + 1:02d}"
    if name.endswith("_date"):
        return (_BASE - timedelta(days=i % 1000)).isoformat()
    if name == "state":
        return _STATES[i % len(_STATES)]
    if name == "city":
        return _CITIES[i % len(_CITIES)]
    if name == "category":
        return _CATEGORIES[i % len(_CATEGORIES)]
    if name == "status":
        return _STATUSES[i % len(_STATUSES)]
    if name == "email":
        return f"customer{i}@example.com"
    if name == "name":
        return _NAMES[i % len(_NAMES)]
    if name == "id" or name.endswith("_id"):
        return i + 1
    return f"{name.replace('_', ' ')} {i}"


def rows_for(fields: list[str], n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{f: cell(f, i) for f in fields} for i in range(start, start + n)]


def row_count(query: dict[str, Any], limit_override: int | None) -> int:
    if limit_override is not None:
        n = limit_override
    else:
        raw = query.get("limit")
        try:
            n = int(raw) if raw not in (None, "") else 500
        except ValueError:
            n = 500
    if n < 0:  # -1 = all results; the emulator's "all" is capped
        n = MAX_ROWS
    return min(n, MAX_ROWS)


def _sql(q: dict[str, Any], n: int) -> str:
    cols = ",\n  ".join(f"{f} AS \"{f}\"" for f in q["fields"]) or "1"
    return f"SELECT\n  {cols}\nFROM {q['view']}\nLIMIT {n}"


def _field_meta(f: str) -> dict[str, Any]:
    view, _, name = f.partition(".")
    return {"name": f, "label": label(f), "label_short": label(name), "view": view,
            "type": "count" if name.endswith("count") else "string",
            "category": "measure" if is_measure(f) else "dimension"}


def _delimited(fields: list[str], rows: list[dict[str, Any]], delimiter: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow([label(f) for f in fields])
    for r in rows:
        w.writerow([r[f] for f in fields])
    return buf.getvalue().encode()


def render(q: dict[str, Any], fmt: str, n: int) -> bytes:
    fields: list[str] = q["fields"]
    if fmt == "png":
        return PNG_1PX
    if fmt == "jpg":
        return JPG_1PX
    if fmt == "sql":
        return _sql(q, n).encode()
    rows = rows_for(fields, n)
    if fmt == "json":
        return orjson.dumps(rows)
    if fmt == "json_bi":
        metas = [_field_meta(f) for f in fields]
        return orjson.dumps({
            "metadata": {"fields": {
                "dimensions": [m for m in metas if m["category"] == "dimension"],
                "measures": [m for m in metas if m["category"] == "measure"],
                "table_calculations": [], "pivots": []}, "pivots": []},
            "rows": rows})
    if fmt == "json_detail":
        metas = [_field_meta(f) for f in fields]
        return orjson.dumps({
            "id": q.get("id") or q.get("slug"),
            "fields": {"dimensions": [m for m in metas if m["category"] == "dimension"],
                       "measures": [m for m in metas if m["category"] == "measure"],
                       "table_calculations": [], "pivots": []},
            "data": [{f: {"value": r[f]} for f in fields} for r in rows],
            "sql": _sql(q, n), "has_totals": False, "has_row_totals": False,
            "null_sql": None})
    if fmt == "csv":
        return _delimited(fields, rows, ",")
    if fmt == "txt":
        return _delimited(fields, rows, "\t")
    if fmt == "md":
        head = "| " + " | ".join(label(f) for f in fields) + " |\n"
        sep = "|" + "|".join(" --- " for _ in fields) + "|\n"
        body = "".join("| " + " | ".join(str(r[f]) for f in fields) + " |\n" for r in rows)
        return (head + sep + body).encode()
    if fmt == "html":
        th = "".join(f"<th>{escape(label(f))}</th>" for f in fields)
        trs = "".join("<tr>" + "".join(f"<td>{escape(str(r[f]))}</td>" for f in fields)
                      + "</tr>" for r in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>".encode()
    raise ValueError(fmt)


class ResultCache:
    """Small LRU of rendered results: repeated runs of a look cost a dict lookup."""

    def __init__(self, size: int = 256) -> None:
        self._d: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self._size = size

    def get(self, q: dict[str, Any], fmt: str, n: int) -> bytes:
        key = (q["slug"], fmt, n)
        hit = self._d.get(key)
        if hit is not None:
            self._d.move_to_end(key)
            return hit
        body = render(q, fmt, n)
        self._d[key] = body
        if len(self._d) > self._size:
            self._d.popitem(last=False)
        return body


_CHUNK_ROWS = 2000


async def stream_big(fields: list[str], fmt: str, total_bytes: int) -> AsyncIterator[bytes]:
    """~total_bytes of rows: one pre-encoded block repeated, so the cost is the socket's.

    json is exactly total_bytes (padded with JSON whitespace); csv/txt stop at the last whole
    row that fits, so they are at most one row short.
    """
    rows = rows_for(fields, _CHUNK_ROWS)
    if fmt == "json":
        encoded = [orjson.dumps(r) for r in rows]
        head, tail = b"[", b"]"
        sep = b","
    else:
        text = _delimited(fields, rows, "," if fmt == "csv" else "\t").decode()
        lines = text.splitlines(keepends=True)
        head, tail, sep = lines[0].encode(), b"", b""
        encoded = [ln.encode() for ln in lines[1:]]
    block = sep.join(encoded)
    remaining = total_bytes - len(head) - len(tail)
    yield head
    first = True
    while remaining > 0:
        lead = b"" if first else sep
        if len(lead) + len(block) <= remaining:
            yield lead + block
            remaining -= len(lead) + len(block)
            first = False
            continue
        # Last partial block: whole rows that still fit.
        out = bytearray()
        for r in encoded:
            piece = (b"" if first and not out else sep) + r
            if len(piece) > remaining - len(out):
                break
            out += piece
        remaining -= len(out)
        if fmt == "json" and remaining > 0:
            out += b" " * remaining
        remaining = 0
        if out:
            yield bytes(out)
    yield tail
