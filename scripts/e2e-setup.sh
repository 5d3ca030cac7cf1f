#!/usr/bin/env bash
# Installs code-server (a real VS Code in the browser) for the end-to-end tests, outside the project.
# Idempotent: a second run with everything in place does nothing. Recipe: see the e2e notes / README.
# Needs Debian's chromium, ripgrep and libkrb5-dev (and xvfb on CI), installed by .ci/run or by hand:
#   apt-get install -y libkrb5-dev ripgrep chromium xvfb
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
CACHE_DIR="${SALIENCY_LENS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saliency-lens-e2e}"
BIN="$CACHE_DIR/node_modules/.bin/code-server"
# Written only after a complete install (code-server's postinstall populates its bundled VS Code).
MARKER="$CACHE_DIR/.installed-code-server-$CODE_SERVER_VERSION"

if [ -f "$MARKER" ] && [ -x "$BIN" ]; then
  echo "code-server $CODE_SERVER_VERSION already installed in $CACHE_DIR"
  exit 0
fi

for tool in rg node npm; do
  command -v "$tool" >/dev/null || { echo "e2e-setup: '$tool' is missing (apt-get install -y ripgrep chromium libkrb5-dev xvfb)" >&2; exit 1; }
done
[ -x /usr/bin/chromium ] || echo "e2e-setup: warning: /usr/bin/chromium not found; the e2e test needs it" >&2

# @vscode/ripgrep's postinstall downloads from GitHub, which is not reachable here: seed its cache with
# Debian's rg under the exact name it looks for (the cache lives in the OS temp dir, keyed by version).
RG_CACHE="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-1.15.11"
RG_TARBALL="$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -f "$RG_TARBALL" ]; then
  mkdir -p "$RG_CACHE"
  tar czf "$RG_TARBALL" -C "$(dirname "$(command -v rg)")" rg
fi

# A previous, interrupted or script-less install would be taken as up to date by npm: start clean.
rm -rf "$CACHE_DIR/node_modules" "$CACHE_DIR/package.json" "$CACHE_DIR/package-lock.json"
mkdir -p "$CACHE_DIR"
echo "installing code-server $CODE_SERVER_VERSION into $CACHE_DIR (a few minutes)…"
# unsafe_perm: CI runs as root; yes: a nested postinstall calls npx; dangerously_allow_all_scripts: npm 11
# skips dependency install scripts unless approved, and code-server is unusable without its postinstall
# (older npm versions ignore these settings with a warning).
export npm_config_yes=true npm_config_unsafe_perm=true npm_config_dangerously_allow_all_scripts=true
npm install --no-audit --no-fund --prefix "$CACHE_DIR" "code-server@$CODE_SERVER_VERSION"

VSCODE_DIR="$CACHE_DIR/node_modules/code-server/lib/vscode"
if [ ! -e "$VSCODE_DIR/node_modules.asar" ] || [ ! -x "$VSCODE_DIR/node_modules/@vscode/ripgrep/bin/rg" ]; then
  echo "e2e-setup: code-server's postinstall did not complete (see the npm output above)" >&2
  exit 1
fi
"$BIN" --version | head -n1
touch "$MARKER"
