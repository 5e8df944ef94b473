"""Fixtures for the emulator's own tests: one emulator per session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from looker_emulator.testing import RunningEmulator, running_emulator

from .helpers import Flow, SpecChecker, make_config


@pytest.fixture(scope="session")
def spec() -> SpecChecker:
    return SpecChecker()


@pytest.fixture(scope="session")
def emu() -> Iterator[RunningEmulator]:
    with running_emulator(make_config()) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(emu: RunningEmulator) -> None:
    emu.control.reset()


@pytest.fixture
def flow(emu: RunningEmulator) -> Flow:
    return Flow(emu)
