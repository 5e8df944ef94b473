"""The README's configuration reference and troubleshooting match the code."""

from __future__ import annotations

import re
from pathlib import Path

from service.config import Settings
from service.errors import PROBLEM_CODES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
LOGIN_ERRORS = ("access_denied", "invalid_state", "exchange_failed", "looker_unavailable")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_configuration_table_lists_exactly_the_settings() -> None:
    table = _section("Configuration")
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_troubleshooting_covers_every_problem_code_and_login_error() -> None:
    section = _section("Troubleshooting")
    for code in [*PROBLEM_CODES, "validation_error", "method_not_allowed", *LOGIN_ERRORS]:
        assert f"`{code}`" in section, code


def test_every_route_in_the_openapi_spec_has_a_description_and_an_example() -> None:
    import json

    spec = json.loads((Path(__file__).resolve().parents[2] / "openapi" / "openapi.json")
                      .read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and operation.get("description"), (method, path)
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                for media, content in response.get("content", {}).items():
                    binary = content.get("schema", {}).get("format") == "binary"
                    has_example = "example" in content or "examples" in content
                    assert has_example or binary, (method, path, status, media)
