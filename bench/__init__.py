"""Reproducible benchmarks for looker-bff (see docs/bench.md)."""
