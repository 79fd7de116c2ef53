#!/usr/bin/env bash
# Installs everything the tests need (Debian peers + Python venv) and runs the whole suite:
# lint, type check, docs drift, then pytest. Usage: bash tests/run.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
echo "== pip install -e .[dev] (log: .venv/pip-install.log)"
if ! .venv/bin/python -m pip install -e '.[dev]' > .venv/pip-install.log 2>&1; then
  tail -n 40 .venv/pip-install.log
  exit 1
fi

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
