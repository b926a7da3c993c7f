#!/usr/bin/env bash
# Set up c360 for development: a virtualenv at .venv with c360 and its dev tools installed.
# Idempotent: re-installs only when pyproject.toml changed. Needs Python >= 3.11.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${C360_VENV:-$REPO/.venv}"
cd "$REPO"

pick_python() {
  local p
  for p in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$p" ] && command -v "$p" >/dev/null || continue
    if "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then echo "$p"; return; fi
  done
  echo "[setup] error: Python >= 3.11 not found (set PYTHON=/path/to/python3.11)" >&2; exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
  py="$(pick_python)"
  echo "[setup] creating $VENV with $py"
  "$py" -m venv "$VENV"
fi
stamp="$VENV/.c360-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing c360 with dev extras (first time takes a minute or two)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  echo "$want" >"$stamp"
fi
echo "[setup] ready: $VENV/bin/c360"
