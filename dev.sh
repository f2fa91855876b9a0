#!/usr/bin/env bash
# soraflow's developer entry point. Sets everything up on first use (a .venv, pinned pip packages,
# Azurite from package-lock.json), then:
#   ./dev.sh run    run the app's main job on the embedded defaults (Azurite + the Sora emulator)
#   ./dev.sh test   run every test (lint, format check, pytest)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  local stamp=.venv/.dev-stamp want
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$want" > "$stamp"
  fi
  local nstamp=node_modules/.dev-stamp nwant
  nwant=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$nstamp" 2>/dev/null)" != "$nwant" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$nwant" > "$nstamp"
  fi
}

setup_browser() {
  # The studio's browser tests drive Debian's chromium (Playwright cannot download a browser); CI runs as root.
  if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
  run)
    setup
    exec .venv/bin/python -m emulators.stack "$@"
    ;;
  test)
    setup
    setup_browser
    .venv/bin/python -m ruff check .
    .venv/bin/python -m ruff format --check .
    # pytest exits 5 when it collects nothing; that is a failure here like any other non-zero code.
    # Most of the suite waits on servers (Azurite, emulators, the local host), so four workers overlap those waits
    # even on two cores; a test module stays on one worker (its module-scoped servers are started once).
    exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-4}" --dist loadfile --durations=15 "$@"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: ./dev.sh run|test|setup [args]" >&2
    exit 2
    ;;
esac
