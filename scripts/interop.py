"""Drives veo-mcp with the official MCP Python SDK against veo-mock, over stdio and HTTP.

Run by scripts/interop.sh (which builds the binaries and installs the SDK). Every check raises on
failure, so a non-zero exit means an MCP client and veo-mcp disagree somewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

MOCK_KEY = "interop-key"
HTTP_TOKEN = "interop-token"


def log(message: str) -> None:
    print(f"interop: {message}", file=sys.stderr, flush=True)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def mock_stats(base_url: str) -> dict:
    with urllib.request.urlopen(f"{base_url}/_mock/stats", timeout=5) as response:
        return json.load(response)


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def check_schema(node, where: str) -> None:
    """The schema features many hosts reject are absent."""
    if isinstance(node, dict):
        for key in ("$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf"):
            assert key not in node, f"{where}: has {key}"
        assert not isinstance(node.get("type"), list), f"{where}: type array {node.get('type')}"
        fmt = node.get("format")
        assert fmt is None or not re.match(r"u?int\d+|double|float", fmt), f"{where}: format {fmt}"
        for key, value in node.items():
            check_schema(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_schema(value, f"{where}[{i}]")


async def exercise(client: Client, frames: tuple[str, str], base_url: str, label: str) -> None:
    """List tools, reject bad input without traffic, generate, wait with progress, download."""
    tools = (await client.list_tools()).tools
    names = sorted(t.name for t in tools)
    assert names == ["generate_transition_video", "get_task_result", "list_tasks"], names
    for tool in tools:
        check_schema(tool.input_schema, f"{tool.name}.inputSchema")
        assert tool.output_schema, f"{tool.name} has an output schema"
        assert tool.title and tool.annotations, f"{tool.name} has a title and annotations"
    by_name = {t.name: t for t in tools}
    assert by_name["get_task_result"].annotations.read_only_hint is True
    assert by_name["generate_transition_video"].annotations.idempotent_hint is False

    before = mock_stats(base_url)
    bad = await client.call_tool(
        "generate_transition_video",
        {"image": frames[0], "last_image": frames[1], "prompt": "x", "sample_count": 9},
    )
    assert bad.is_error, bad
    assert "sample_count" in bad.content[0].text, bad.content[0].text
    assert mock_stats(base_url)["requests"] == before["requests"], "bad input reached the platform"

    submitted = await client.call_tool(
        "generate_transition_video",
        {"image": frames[0], "last_image": frames[1], "prompt": f"interop over {label}", "duration_seconds": 4},
    )
    assert not submitted.is_error, submitted.content[0].text
    task_id = submitted.structured_content["task_id"]
    assert submitted.structured_content["parameters"]["duration_seconds"] == 4
    log(f"{label}: submitted {task_id}")

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    report = await client.call_tool(
        "get_task_result", {"task_id": task_id, "wait_seconds": 20}, progress_callback=on_progress
    )
    assert not report.is_error, report.content[0].text
    result = report.structured_content
    assert result["status"] == "succeeded" and result["done"] is True, result
    assert progress, "progress notifications were received"
    values = [p[0] for p in progress]
    assert values == sorted(values) and len(set(values)) == len(values), values
    video = result["videos"][0]
    assert video["expires_at"], video
    data = download(video["url"])
    assert data[4:8] == b"ftyp", "the video is an MP4"
    # The server saved it too, and says so in the result and in the journal.
    with open(video["saved_path"], "rb") as f:
        assert f.read() == data, "the saved file is the video"
    links = [c for c in report.content if getattr(c, "type", None) == "resource_link"]
    assert links and str(links[0].uri) == f"veo://videos/{task_id}/1.mp4", report.content
    listed = await client.call_tool("list_tasks", {"status": "succeeded", "limit": 1})
    assert listed.structured_content["tasks"][0]["task_id"] == task_id, listed.structured_content
    # The saved video is a resource too: listed first (newest), read back byte for byte.
    assert re.fullmatch(r"[A-Za-z0-9_-]+", task_id), task_id
    uri = f"veo://videos/{task_id}/1.mp4"
    resources = (await client.list_resources()).resources
    assert resources and str(resources[0].uri) == uri, resources[:1]
    assert resources[0].mime_type == "video/mp4" and resources[0].size == len(data), resources[0]
    contents = (await client.read_resource(uri)).contents
    assert base64.b64decode(contents[0].blob) == data, "the resource is the saved video"
    templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["veo://videos/{task_id}/{n}.mp4"], templates
    log(f"{label}: succeeded after {len(progress)} progress notifications, {len(data)} byte MP4")


def start_mock(path: str) -> tuple[subprocess.Popen, str]:
    mock = subprocess.Popen(
        [path, "--addr", "127.0.0.1:0", "--api-key", MOCK_KEY, "--queue-ms", "300", "--processing-ms", "2500"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = mock.stdout.readline()
    match = re.search(r"https?://\S+", line)
    assert match, f"veo-mock printed no base URL: {line!r}"
    return mock, match.group(0).rstrip("/")


def check_stdout_is_json_rpc_only(veo_mcp: str, env: dict) -> None:
    """With debug logging on, every line on stdout is still a JSON-RPC message."""
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "get_task_result", "arguments": {"task_id": "nope", "wait_seconds": 0}}},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in requests)
    run = subprocess.run(
        [veo_mcp], input=stdin, capture_output=True, text=True, timeout=30,
        env={**env, "RUST_LOG": "debug"},
    )
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    ids = set()
    for line in lines:
        message = json.loads(line)
        assert message.get("jsonrpc") == "2.0", line
        ids.add(message.get("id"))
    assert {1, 2, 3} <= ids, f"replies to every request: {ids}"
    assert run.stderr, "logs go to stderr"
    log(f"stdio: {len(lines)} stdout lines, all JSON-RPC; {len(run.stderr.splitlines())} log lines on stderr")


def start_http(veo_mcp: str, env: dict) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [veo_mcp, "serve", "--http", "127.0.0.1:0", "--auth-token", HTTP_TOKEN],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        match = re.search(r"(http://\S+/mcp)", line)
        if match:
            return server, match.group(1)
    server.kill()
    raise AssertionError("veo-mcp did not report its HTTP address")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--veo-mcp", required=True)
    parser.add_argument("--veo-mock", required=True)
    args = parser.parse_args()
    veo_mcp = os.path.abspath(args.veo_mcp)

    mock, base_url = start_mock(os.path.abspath(args.veo_mock))
    log(f"veo-mock at {base_url}")
    workdir = tempfile.mkdtemp(prefix="veo-interop-")
    first_path = os.path.join(workdir, "first.png")
    last_path = os.path.join(workdir, "last.png")
    with open(first_path, "wb") as f:
        f.write(png(320, 180, (250, 120, 0)))
    with open(last_path, "wb") as f:
        f.write(png(320, 180, (10, 10, 80)))
    env = {
        **os.environ,
        "JIEKOU_API_KEY": MOCK_KEY,
        "JIEKOU_BASE_URL": base_url,
        "VEO_ALLOWED_ROOTS": workdir,
        "VEO_JOURNAL": os.path.join(workdir, "journal.sqlite3"),
        "VEO_OUTPUT_DIR": os.path.join(workdir, "videos"),
    }
    env.pop("RUST_LOG", None)
    try:
        # stdio, with frames as local files, as a desktop host would pass them.
        check_stdout_is_json_rpc_only(veo_mcp, env)
        params = StdioServerParameters(command=veo_mcp, env=env)
        async with Client(params, mode="legacy") as client:
            await exercise(client, (first_path, last_path), base_url, "stdio")

        # Streamable HTTP with a bearer token, frames as Base64, in both protocol generations.
        server, url = start_http(veo_mcp, env)
        try:
            frames = tuple(base64.b64encode(open(p, "rb").read()).decode() for p in (first_path, last_path))
            for mode in ("legacy", "auto"):
                http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {HTTP_TOKEN}"}, timeout=60)
                async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
                    version = client.protocol_version
                    expected = "2026-07-28" if mode == "auto" else "2025-11-25"
                    assert version == expected, f"{mode}: negotiated {version}"
                    await exercise(client, frames, base_url, f"http ({mode}, {version})")
            async with httpx2.AsyncClient(timeout=10) as raw:
                refused = await raw.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
                assert refused.status_code == 401, refused.status_code
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=10) == 0, "veo-mcp exits cleanly on SIGTERM"
            log("http: refused without the token; clean exit on SIGTERM")
        finally:
            if server.poll() is None:
                server.kill()
        stats = mock_stats(base_url)
        assert stats["tasks_created"] == 3, stats
        log(f"ok: 3 videos over stdio and HTTP, {stats['tasks_created']} tasks created on the mock")
    finally:
        mock.kill()


if __name__ == "__main__":
    asyncio.run(main())
