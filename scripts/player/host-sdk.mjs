// The same minimal host as host.html, with its host side taken from the official SDKs: an MCP
// `Client` of @modelcontextprotocol/client over streamable HTTP, and the `AppBridge` of
// @modelcontextprotocol/ext-apps (which answers the view's ui/initialize, forwards its tools/call
// and resources/read to the client, and validates every message). player.sh bundles this file
// with esbuild; run.mjs serves host.html with the bundle as /sdk. Defines window.runHost.

import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const UI_EXTENSION = "io.modelcontextprotocol/ui";
const VIEW_MIME = "text/html;profile=mcp-app";

window.runHost = async function runHost(options) {
  const state = window.hostState;
  state.sdk = true;
  document.documentElement.dataset.theme = options.theme;
  try {
    const client = new Client(
      { name: "veo-player-test-host-sdk", version: "1" },
      { capabilities: { extensions: { [UI_EXTENSION]: { mimeTypes: [VIEW_MIME] } } } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.href)));
    const { tools } = await client.listTools();
    const tool = tools.find((t) => t.name === options.tool);
    const uri = tool?._meta?.ui?.resourceUri;
    if (!uri) throw new Error(`${options.tool} names no view: ${JSON.stringify(tool?._meta)}`);
    const view = (await client.readResource({ uri })).contents[0];
    if (view.mimeType !== VIEW_MIME) throw new Error(`the view is ${view.mimeType}`);
    const declared = view._meta?.ui?.csp ?? {};
    const approved = options.approveMedia ? declared : {};
    state.declaredCsp = declared;
    state.approvedCsp = approved;

    const frame = document.createElement("iframe");
    frame.title = "veo player";
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin");
    frame.src = `${options.sandboxOrigin}/sandbox.html?csp=${encodeURIComponent(JSON.stringify(approved))}`;
    document.getElementById("tool").textContent = options.tool;
    document.getElementById("slot").append(frame);
    // Listen before the sandbox loads: it says it is ready as soon as it runs.

    const bridge = new AppBridge(
      client,
      { name: "veo-player-test-host-sdk", version: "1" },
      { serverTools: {}, serverResources: {}, openLinks: {}, logging: {}, sandbox: { csp: approved } },
      { hostContext: { theme: options.theme, displayMode: "inline", platform: "web", toolInfo: { tool } } },
    );
    let initialized = false;
    let result = null;
    bridge.onsandboxready = () => bridge.sendSandboxResourceReady({ html: view.text, csp: approved });
    bridge.oninitialized = () => {
      initialized = true;
      state.viewReady = true;
      bridge.sendToolInput({ arguments: options.arguments });
      if (result) bridge.sendToolResult(result);
    };
    bridge.onsizechange = ({ height }) => {
      if (height) frame.style.height = `${Math.min(1200, Math.max(120, height))}px`;
    };
    bridge.onopenlink = async ({ url }) => {
      state.opened.push(url);
      return {};
    };
    await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));

    result = await client.callTool({ name: options.tool, arguments: options.arguments });
    state.toolResult = result;
    if (initialized) bridge.sendToolResult(result);
  } catch (error) {
    state.problem = error.message;
    document.getElementById("problem").textContent = error.message;
  }
};
window.runHost.official = true;
