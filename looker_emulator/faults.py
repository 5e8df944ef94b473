"""Injected faults per route family: latency, fixed/random failure status, 429, endpoint down."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

# Route families a fault can target. "all" applies to every family.
FAMILIES = ("token", "auth", "api", "login", "logout", "all")


@dataclass
class Fault:
    latency_ms: float = 0.0
    status: int | None = None  # answer this status instead of handling the request
    count: int | None = None  # only the next N requests fail; None = until cleared
    rate: float = 1.0  # probability that a request fails with `status`
    retry_after: int | None = None  # Retry-After header (seconds), sensible with 429/503
    down: bool = False  # endpoint down: 503 + Connection: close, nothing handled

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Decision:
    latency_s: float = 0.0
    status: int | None = None
    retry_after: int | None = None
    down: bool = False


_NO_FAULT = Decision()


class Faults:
    def __init__(self) -> None:
        self._by_family: dict[str, Fault] = {}
        self._rng = random.Random()

    def set(self, family: str, fault: Fault) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
        if fault.status is not None and not 100 <= fault.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if not 0.0 <= fault.rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        self._by_family[family] = fault

    def clear(self, family: str | None = None) -> None:
        if family is None:
            self._by_family.clear()
        else:
            self._by_family.pop(family, None)

    def seed(self, seed: int) -> None:
        self._rng.seed(seed)

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() for k, v in self._by_family.items()}

    def decide(self, family: str) -> Decision:
        if not self._by_family:  # fast path: no faults configured
            return _NO_FAULT
        d = Decision()
        for fam in (family, "all"):
            f = self._by_family.get(fam)
            if f is None:
                continue
            d.latency_s += f.latency_ms / 1000.0
            if d.status is not None or d.down:
                continue
            if f.down:
                d.down = True
                continue
            if f.status is None or (f.rate < 1.0 and self._rng.random() >= f.rate):
                continue
            d.status, d.retry_after = f.status, f.retry_after
            if f.count is not None:
                f.count -= 1
                if f.count <= 0:
                    # Exhausted: keep any latency, drop the failure.
                    if f.latency_ms:
                        f.status, f.count = None, None
                    else:
                        del self._by_family[fam]
        return d
