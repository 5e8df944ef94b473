#!/bin/sh
# One command: bench/run.sh [--quick|--soak|--profile|--database-url URL ...]
cd "$(dirname "$0")/.." && exec "${PYTHON:-.venv/bin/python}" -m bench.run "$@"
