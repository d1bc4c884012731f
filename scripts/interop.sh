#!/usr/bin/env bash
# Interoperability check: drives the built veo-mcp binary with the official MCP Python SDK, over
# stdio and streamable HTTP, against the veo-mock binary. Needs python3 (with venv and pip) and
# access to PyPI; installs the SDK into target/interop-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# The server as packagers build it (no demo, so no veo-mock and no MCP client side), kept
# beside the default build; cargo caches both, so switching back is a relink.
cargo build --quiet -p veo-mcp --no-default-features
cp target/debug/veo-mcp target/debug/veo-mcp-minimal
cargo build --quiet -p veo-mcp -p veo-mock --bins

if target/debug/veo-mcp-minimal demo >/dev/null 2>&1; then
  echo "veo-mcp built without the demo feature still has a demo command" >&2
  exit 1
fi
if command -v nm >/dev/null && nm target/debug/veo-mcp-minimal | grep -qiE 'veo_mock|RoleClient'; then
  echo "veo-mcp built without the demo feature links veo-mock or rmcp's client side" >&2
  exit 1
fi

venv=target/interop-venv
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/interop-requirements.txt

for binary in target/debug/veo-mcp target/debug/veo-mcp-minimal; do
  echo "== interop: $binary"
  "$venv/bin/python" scripts/interop.py --veo-mcp "$binary" --veo-mock target/debug/veo-mock
done
