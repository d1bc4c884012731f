#!/usr/bin/env bash
# Interoperability check: drives the built veo-mcp binary with the official MCP Python SDK, over
# stdio and streamable HTTP, against the veo-mock binary. Needs python3 (with venv and pip) and
# access to PyPI; installs the SDK into target/interop-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p veo-mcp -p veo-mock --bins

venv=target/interop-venv
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/interop-requirements.txt

exec "$venv/bin/python" scripts/interop.py \
  --veo-mcp target/debug/veo-mcp \
  --veo-mock target/debug/veo-mock
