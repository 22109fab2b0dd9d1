#!/usr/bin/env bash
# Sets up girflow on a fresh machine: a Python 3.11 virtual environment in .venv with the package
# and its pinned dependencies (llama-cpp-python compiles from source, ~5 minutes on 2 cores), the
# native FIITED runtime compiled by the package build, and Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$PY" -m venv .venv
# torch==2.13.0 first, explicitly: an unpinned resolution could pull a multi-GB CUDA build.
.venv/bin/python -m pip install --disable-pip-version-check -q torch==2.13.0
.venv/bin/python -m pip install --disable-pip-version-check -q -e ".[dev]"   # dev: ruff + mypy, run by tests/test_lint.py

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: chromium is missing (apt-get install chromium); the browser tests will be skipped" >&2
  fi
fi
# PostgreSQL for Mirror's engine tests: Debian's server binaries (initdb/pg_ctl under
# /usr/lib/postgresql/<version>/bin); the tests start a private cluster as an unprivileged user.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: PostgreSQL is missing (apt-get install postgresql); the PostgreSQL tests will be skipped" >&2
  fi
fi
if [ "$(id -u)" = 0 ] && ! id girflow-pg >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin girflow-pg  # PostgreSQL will not run as root
fi
echo "setup: ready (.venv)"
