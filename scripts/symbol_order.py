#!/usr/bin/env python3
"""Writes crates/veo-mcp/symbol-order.txt: the server's functions in the order the linker should
place them, so that the code an idle server runs shares as few pages as possible (issue 12).

Runs the given veo-mcp binary under callgrind against a veo-mock, in three phases, and lists the
binary's functions each phase executed that an earlier phase did not:
  1. stdio: start, initialize, tools/list, idle 3 s (the watcher's polls): what every server runs;
  2. stdio: a submit, reads of the running task, a short task waited for and saved, list_tasks;
  3. streamable HTTP: start, then the read and submit tools over stateless requests.

usage: symbol_order.py SERVER_BIN MOCK_BIN OUT_FILE   (scripts/symbol-order.sh builds both)
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from local_processes import free_port, png, server_env, tool_call, wait_for_port

SERVER, MOCK, OUT = sys.argv[1:4]


def solid_png(width, height, rgb):
    """A solid-colour RGB PNG."""
    return png(width, height, [bytes(rgb) * width] * height)


def b64(data):
    import base64
    return base64.b64encode(data).decode()


FRAMES = [b64(solid_png(64, 36, (20, 40, 200))), b64(solid_png(64, 36, (200, 40, 20)))]


def callgrind(out_file, args, env, **popen):
    return subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out_file}",
         SERVER, *args], env=env, stderr=subprocess.DEVNULL, **popen)


class Stdio:
    def __init__(self, out_file, env):
        self.p = callgrind(out_file, ["serve"], env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           bufsize=0)
        self.next_id = 0

    def call(self, method, params=None):
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.p.stdin.write(json.dumps(message).encode() + b"\n")
        while True:
            reply = json.loads(self.p.stdout.readline())
            if reply.get("id") == self.next_id:
                assert "result" in reply, reply
                return reply["result"]

    def start(self):
        self.call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "symbol-order", "version": "1"}})
        self.p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.call("tools/list", {})

    def tool(self, name, arguments):
        result = self.call("tools/call", {"name": name, "arguments": arguments})
        assert not result.get("isError"), result
        return result.get("structuredContent", {})

    def stop(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=120) == 0

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def submit_args(prompt):
    return {"image": FRAMES[0], "last_image": FRAMES[1], "prompt": prompt, "allow_duplicate": True}


def phase_idle(out_file, env):
    server = Stdio(out_file, env)
    try:
        server.start()
        time.sleep(3)
        server.stop()
    finally:
        server.kill()


def phase_stdio_calls(out_file, env):
    server = Stdio(out_file, env)
    try:
        return stdio_calls(server)
    finally:
        server.kill()


def stdio_calls(server):
    server.start()
    running = server.tool("generate_transition_video",
                          submit_args("order, running [mock:processing_ms=86400000]"))["task_id"]
    for _ in range(3):
        server.tool("get_task_result", {"task_id": running, "wait_seconds": 0})
    short = server.tool("generate_transition_video",
                        submit_args("order, short [mock:duration_ms=300]"))["task_id"]
    done = server.tool("get_task_result", {"task_id": short, "wait_seconds": 30})
    assert done["status"] == "succeeded", done
    for _ in range(3):
        server.tool("get_task_result", {"task_id": short, "wait_seconds": 0})
    server.tool("list_tasks", {})
    server.stop()
    return running


def phase_http(out_file, env, running):
    port = free_port()
    p = callgrind(out_file, ["serve", "--http", f"127.0.0.1:{port}"], env,
                  stdout=subprocess.DEVNULL)
    try:
        http_calls(p, port, running)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def http_calls(p, port, running):
    wait_for_port(port, "the HTTP server")

    def tool(name, arguments):
        body, headers = tool_call(name, arguments, "symbol-order")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", data=body,
                                         headers=headers)
        reply = json.load(urllib.request.urlopen(request, timeout=60))
        assert "result" in reply and not reply["result"].get("isError"), reply

    for _ in range(5):
        tool("get_task_result", {"task_id": running, "wait_seconds": 0})
    for _ in range(3):
        tool("generate_transition_video", submit_args("order, http [mock:processing_ms=86400000]"))
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)


def executed(profile, text):
    """The binary's functions a callgrind profile saw run, in the profile's order."""
    names, seen = {}, []
    for line in open(profile):
        m = re.match(r"c?fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m:
            continue
        if m.group(2):
            names[m.group(1)] = m.group(2)
        name = names.get(m.group(1))
        if name in text:
            seen.append(name)
    return seen


def main():
    nm = subprocess.run(["nm", SERVER], capture_output=True, text=True, check=True).stdout
    text = {p[2] for p in (line.split() for line in nm.splitlines())
            if len(p) == 3 and p[1] in ("t", "T", "w", "W")}
    with tempfile.TemporaryDirectory() as work:
        mock_port = free_port()
        mock = subprocess.Popen([MOCK, "--addr", f"127.0.0.1:{mock_port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            env = {**server_env(work, mock_port, "mock-key"), "VEO_ALLOWED_ROOTS": work}
            wait_for_port(mock_port, "veo-mock")
            profiles = [os.path.join(work, f"phase{i}.callgrind") for i in (1, 2, 3)]
            phase_idle(profiles[0], env)
            running = phase_stdio_calls(profiles[1], env)
            phase_http(profiles[2], env, running)
        finally:
            mock.kill()
            mock.wait()
        order, placed = [], set()
        for profile in profiles:
            for name in executed(profile, text):
                if name not in placed:
                    placed.add(name)
                    order.append(name)
    with open(OUT, "w") as f:
        f.writelines(name + "\n" for name in order)
    print(f"{OUT}: {len(order)} of the binary's {len(text)} functions")


main()
