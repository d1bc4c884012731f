#!/usr/bin/env python3
"""Counts the instructions one `generate_transition_video` call costs the HTTP server: a
measure of CPU work that this machine's noise does not move (issue 12; see BENCHMARKS.md).

Starts veo-mock, then the given server (`serve --http`) under callgrind with a fresh journal
file; sends WARM-UP calls, zeroes the counters, sends CALLS more, one at a time over one
keep-alive connection (stateless 2026-07-28 requests, two 64x36 PNGs of seeded noise inline,
about 7 KB each), dumps the counters and prints the instructions per call. The same binary
and inputs give the same count to within about 1 % (the watcher's polls of the tasks it follows
depend on time, and so on how fast the machine is); kernel time is not counted.

usage: instructions_per_call.py SERVER_BIN MOCK_BIN [CALLS] [WARM-UP]
(the server build: cargo build --release -p veo-mcp --no-default-features --bin veo-mcp)
"""
import base64
import glob
import http.client
import os
import random
import re
import subprocess
import sys
import tempfile

from local_processes import free_port, png, server_env, tool_call, wait_for_port

SERVER, MOCK = sys.argv[1:3]
CALLS = int(sys.argv[3]) if len(sys.argv) > 3 else 300
WARM_UP = int(sys.argv[4]) if len(sys.argv) > 4 else 50


def noise_png(width, height, seed):
    """An RGB PNG of seeded random pixels: it barely compresses, like a photo's detail."""
    rng = random.Random(seed)
    return png(width, height, [bytes(rng.randrange(256) for _ in range(width * 3))
                               for _ in range(height)])


def request():
    """The call measured, its body and headers: a task that stays processing, so that the
    watcher polls it, as under load."""
    return tool_call("generate_transition_video", {
        "image": base64.b64encode(noise_png(64, 36, 1)).decode(),
        "last_image": base64.b64encode(noise_png(64, 36, 2)).decode(),
        "prompt": "instructions per call [mock:processing_ms=86400000]",
        "allow_duplicate": True,
    }, "instructions")


def send(port, body, headers, count):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for _ in range(count):
        conn.request("POST", "/mcp", body, headers)
        reply = conn.getresponse()
        data = reply.read()
        assert reply.status == 200 and b"task_id" in data, data[:500]
    conn.close()


def main():
    with tempfile.TemporaryDirectory(prefix="veo-instructions-") as work:
        out = os.path.join(work, "callgrind.out")
        measure(work, out)
        dumps = [path for path in glob.glob(out + ".*") if re.search(r"\.\d+$", path)]
        assert len(dumps) == 1, dumps
        with open(dumps[0]) as dump:
            totals = [line for line in dump if line.startswith(("summary:", "totals:"))]
    instructions = int(totals[-1].split()[1])
    body, _ = request()
    print(f"{instructions / CALLS:,.0f} instructions a call ({CALLS} calls after {WARM_UP}, "
          f"{len(body):,} bytes each)")


def measure(work, out):
    """Runs veo-mock and the server under callgrind; the server's counts for the CALLS go to
    `out` (with callgrind's dump suffix)."""
    mock_port, server_port = free_port(), free_port()
    mock = subprocess.Popen([MOCK, "--api-key", "k", "--addr", f"127.0.0.1:{mock_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**server_env(work, mock_port, "k"), "RUST_LOG": "warn"}
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", SERVER, "serve",
         "--http", f"127.0.0.1:{server_port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(mock_port, "veo-mock")
        wait_for_port(server_port, "the server", 120)
        body, headers = request()
        send(server_port, body, headers, WARM_UP)
        subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        send(server_port, body, headers, CALLS)
        subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        server.terminate()
        server.wait()
        mock.terminate()
        mock.wait()


main()
