#!/usr/bin/env bash
# The server seen from outside: the official `openai` Python client and a real browser
# (headless Chromium driven by selenium) against `glassbox serve` with the default model.
#
# Installs what it needs on a fresh Debian machine: a venv outside the sources
# (~/.cache/glassbox-venvs/client, pinned openai + selenium) and, when missing, the Debian
# packages chromium and chromium-driver. Called by scripts/test-all.sh; runs alone too:
#   ./scripts/test-python.sh            (GLASSBOX_SCREENSHOT=path also saves the page's picture)
# It serves with `cargo build --release`'s binary, or with GLASSBOX_BIN when set (test-all.sh
# passes the binary its test build made, so the suite compiles the dependencies once, not twice).
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAI_VERSION=3.57.0
SELENIUM_VERSION=4.51.0   # 4.52.0 needs a certifi newer than the one on PyPI's mirror here
VENV="${GLASSBOX_CLIENT_VENV:-$HOME/.cache/glassbox-venvs/client}"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "
import openai, selenium, sys
sys.exit(openai.__version__ != '$OPENAI_VERSION' or selenium.__version__ != '$SELENIUM_VERSION')"; then
  echo "==> creating $VENV (openai==$OPENAI_VERSION, selenium==$SELENIUM_VERSION)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "openai==$OPENAI_VERSION" "selenium==$SELENIUM_VERSION"
fi

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "==> installing chromium and chromium-driver (Debian packages)"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

BIN="${GLASSBOX_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=target/release/glassbox
fi
[ -x "$BIN" ] || { echo "GLASSBOX_BIN=$BIN is not an executable"; exit 1; }
KEY="test-key-$$"
OUT="$(mktemp)"
"$BIN" serve --port 0 --api-key "$KEY" --queue 4 >"$OUT" 2>/dev/null &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; rm -f "$OUT"; }
trap cleanup EXIT

for _ in $(seq 1 600); do
  ADDR="$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$OUT")"
  if [ -n "$ADDR" ] && "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('$ADDR/health', timeout=2)" 2>/dev/null; then break; fi
  sleep 0.1
done
[ -n "${ADDR:-}" ] || { echo "glassbox serve did not start"; exit 1; }
echo "==> glassbox serve at $ADDR"

export GLASSBOX_URL="$ADDR" GLASSBOX_API_KEY="$KEY"
"$VENV/bin/python" -m unittest -v tests/python/test_openai_client.py tests/python/test_tools.py \
  tests/python/test_openai_embeddings.py tests/python/test_page.py

# a clean stop on SIGTERM
kill -TERM "$PID"
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then echo "glassbox serve did not stop on SIGTERM"; exit 1; fi
wait "$PID" || { echo "glassbox serve exited with an error after SIGTERM"; exit 1; }
echo "==> glassbox serve stopped cleanly on SIGTERM"
