#!/usr/bin/env bash
# The test command (README, CI): set up, start the real services, run every test.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m unit`.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
bash scripts/services.sh up
.venv/bin/ruff check src tests bench
exec .venv/bin/python -m pytest "$@"
