#!/usr/bin/env bash
# Rewrite constraints.txt from a fresh install of pyproject.toml's ranges (the newest releases they admit).
# Then run the tests with them: .venv/bin/pip install -c constraints.txt -e ".[dev]" && .venv/bin/python -m pytest
set -euo pipefail
cd "$(dirname "$0")/.."
fresh="$(mktemp -d)"
python3 -m venv "$fresh"
"$fresh/bin/pip" install --quiet --upgrade pip
"$fresh/bin/pip" install --quiet -e ".[dev]"
{
    echo "# Exact versions the tests pass with: README's install command, .ci/run and the Dockerfile install from this file."
    echo "# Refresh with tools/refresh_constraints.sh (after raising a floor in pyproject.toml, or to take new releases)."
    "$fresh/bin/pip" freeze --exclude-editable | grep -v '^pufa' | sort -f
} > constraints.txt
rm -rf "$fresh"
echo "constraints.txt rewritten; now reinstall and run the tests"
