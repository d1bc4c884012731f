"""What the scripts that run veo-mcp and veo-mock locally under callgrind share: free ports,
waiting for a process to listen, the server's environment, stateless tool calls over HTTP, and
PNG frames to send."""
import json
import os
import socket
import struct
import time
import zlib


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, what, seconds=60):
    """Waits until something listens on 127.0.0.1:`port`; `what` names it if nothing does."""
    deadline = time.time() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.time() < deadline, f"{what} did not listen"
            time.sleep(0.2)


def png(width, height, rows):
    """An 8-bit RGB PNG whose `height` rows are `rows` (each `width` * 3 bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    scanlines = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines))
            + chunk(b"IEND", b""))


STATELESS = "2026-07-28"


def server_env(work, mock_port, api_key):
    """The environment of a server that keeps its journal and videos in `work` and asks the
    veo-mock on `mock_port`, which accepts `api_key`."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work,
            "JIEKOU_API_KEY": api_key, "JIEKOU_BASE_URL": f"http://127.0.0.1:{mock_port}",
            "VEO_JOURNAL": os.path.join(work, "journal.sqlite3"),
            "VEO_OUTPUT_DIR": os.path.join(work, "videos")}


def tool_call(name, arguments, client):
    """A stateless (2026-07-28) `tools/call` request: its body and its HTTP headers."""
    meta = {"io.modelcontextprotocol/protocolVersion": STATELESS,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": client, "version": "1"}}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": name, "arguments": arguments, "_meta": meta}}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Mcp-Protocol-Version": STATELESS, "Mcp-Method": "tools/call", "Mcp-Name": name}
    return body, headers
