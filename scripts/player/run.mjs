// The player's browser test: veo-mock and veo-mcp (`serve --http`, real binaries), a test server
// with a minimal MCP Apps host page (host.html) and its sandbox proxy (sandbox.html) on another
// origin, and headless Chromium driving it. Checks, inside the view: progress advances while the
// task runs, then the video loads (readyState ≥ 2) and plays (currentTime advances), through the
// video's MCP resource and through a signed link; a failed task and a refused submit show their
// reason and what to do. Screenshots go to --out.
//
// node run.mjs --veo <veo-mcp> --mock <veo-mock> --out <dir> [--chromium /usr/bin/chromium]

import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const options = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
for (const needed of ["veo", "mock", "out"]) {
  if (!options[needed]) throw new Error(`--${needed} is required`);
}
fs.mkdirSync(options.out, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), "veo-player-"));
const children = [];
const failures = [];

function check(ok, what) {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failures.push(what);
}

// --- Frames: two one-colour 320×180 PNGs ---------------------------------------------------------
function png(width, height, [r, g, b]) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(zlib.crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) row.set([r, g, b], 1 + x * 3);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  const data = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", zlib.deflateSync(pixels)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  return `data:image/png;base64,${data.toString("base64")}`;
}
const FIRST = png(320, 180, [250, 140, 40]);
const LAST = png(320, 180, [20, 40, 110]);

// --- Processes -----------------------------------------------------------------------------------
function start(command, args, env = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  child.output = "";
  child.stdout.on("data", (d) => (child.output += d));
  child.stderr.on("data", (d) => (child.output += d));
  return child;
}

async function waitFor(what, probe, timeoutMs = 20000, everyMs = 100) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function freePort() {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  return port;
}

const mock = start(options.mock, ["--addr", "127.0.0.1:0", "--preset", "fast"]);
const mockUrl = await waitFor("veo-mock", () => (mock.output.match(/http:\/\/[^\s]+/) || [])[0]);
const veoPort = await freePort();
const veoOrigin = `http://127.0.0.1:${veoPort}`;
const veo = start(
  options.veo,
  ["serve", "--http", `127.0.0.1:${veoPort}`, "--base-url", mockUrl, "--journal", path.join(work, "journal.sqlite3"),
    "--output-dir", path.join(work, "videos"), "--public-url", veoOrigin],
  { JIEKOU_API_KEY: "mock-key", RUST_LOG: "warn" },
);
await waitFor("veo-mcp", async () => {
  try {
    return (await fetch(`${veoOrigin}/livez`)).ok;
  } catch {
    return false;
  }
});

// --- The test server: host page, sandbox proxy (another origin by name), /mcp to veo-mcp ----------
function cspHeader(csp) {
  const list = (v) => (Array.isArray(v) ? v.filter((d) => /^https?:\/\/[\w.*:-]+$/.test(d)).join(" ") : "");
  const resources = list(csp.resourceDomains);
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline' ${resources}`,
    `style-src 'self' 'unsafe-inline' ${resources}`,
    `connect-src 'self' ${list(csp.connectDomains)}`,
    `img-src 'self' data: ${resources}`,
    `font-src 'self' ${resources}`,
    `media-src 'self' data: ${resources}`,
    `frame-src ${list(csp.frameDomains) || "'none'"}`,
    "object-src 'none'",
    `base-uri ${list(csp.baseUriDomains) || "'self'"}`,
  ].join("; ");
}

const site = http.createServer((request, response) => {
  const url = new URL(request.url, "http://x");
  if (url.pathname === "/" || url.pathname === "/sdk" || url.pathname === "/sandbox.html") {
    const file = url.pathname === "/sandbox.html" ? "sandbox.html" : "host.html";
    const headers = { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" };
    if (file === "sandbox.html") headers["content-security-policy"] = cspHeader(JSON.parse(url.searchParams.get("csp") || "{}"));
    let page = fs.readFileSync(path.join(here, file), "utf8");
    // /sdk: the same page, its host side replaced by the official SDKs' (host-sdk.mjs, bundled).
    if (url.pathname === "/sdk") page = page.replace("</body>", '<script src="/host-sdk.js"></script>\n</body>');
    response.writeHead(200, headers).end(page);
  } else if (url.pathname === "/host-sdk.js") {
    response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(fs.readFileSync(path.join(here, "host-sdk.js")));
  } else if (url.pathname === "/mcp") {
    const headers = { ...request.headers, host: `127.0.0.1:${veoPort}` };
    delete headers.origin;
    delete headers.referer;
    const upstream = http.request({ host: "127.0.0.1", port: veoPort, path: "/mcp", method: request.method, headers }, (reply) => {
      response.writeHead(reply.statusCode, reply.headers);
      reply.pipe(response);
    });
    upstream.on("error", (e) => response.writeHead(502).end(String(e)));
    request.pipe(upstream);
  } else if (url.pathname === "/favicon.ico") {
    response.writeHead(204).end();
  } else {
    response.writeHead(404).end();
  }
});
site.listen(0, "127.0.0.1");
await once(site, "listening");
const sitePort = site.address().port;
const hostOrigin = `http://127.0.0.1:${sitePort}`;
const sandboxOrigin = `http://localhost:${sitePort}`;

// --- The browser -----------------------------------------------------------------------------------
const browser = await chromium.launch({
  executablePath: options.chromium || "/usr/bin/chromium",
  args: ["--autoplay-policy=no-user-gesture-required"],
});

async function open({ tool, args, theme, approveMedia, viewport, sdk = false, without = [] }) {
  const page = await browser.newPage({ viewport, colorScheme: theme });
  page.on("console", (m) => m.type() === "error" && console.log(`  [browser] ${m.text()}`));
  await page.goto(`${hostOrigin}/${sdk ? "sdk" : ""}`);
  if (sdk) check(await page.evaluate(() => window.runHost.official === true), "the SDK host replaced the hand-written one");
  await page.evaluate((o) => { window.runHost(o); }, { tool, arguments: args, theme, approveMedia, sandboxOrigin, without });
  const view = await waitFor("the view", async () => {
    const problem = await page.evaluate(() => window.hostState.problem);
    if (problem) throw new Error(`the host failed: ${problem}`);
    const frame = page.frames().find((f) => f.parentFrame() && f.parentFrame().parentFrame());
    return frame && (await frame.evaluate(() => Boolean(document.getElementById("app"))).catch(() => false)) && frame;
  });
  return { page, view };
}

const viewState = (view) => view.evaluate(() => {
  const video = document.getElementById("video");
  return {
    state: document.getElementById("app").dataset.state,
    progress: document.getElementById("progress").getAttribute("aria-valuenow"),
    status: document.getElementById("status").textContent,
    reason: document.getElementById("reason").textContent,
    advice: document.getElementById("advice").textContent,
    failureShown: !document.getElementById("failure").hidden,
    prompt: document.getElementById("prompt").textContent,
    settings: document.getElementById("settings").textContent,
    note: document.getElementById("note").textContent,
    src: video.currentSrc.slice(0, 120),
    readyState: video.readyState,
    currentTime: video.currentTime,
    paused: video.paused,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    background: getComputedStyle(document.body).backgroundColor,
  };
});

function luminance(rgb) {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) || [0, 0, 0]).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

async function shot(page, name) {
  const file = path.join(options.out, `${name}.png`);
  await page.locator("main").screenshot({ path: file });
  console.log(`  screenshot: ${file}`);
}

async function playing(view, label) {
  const loaded = await waitFor(`${label}: the video loads`, async () => {
    const s = await viewState(view);
    return s.readyState >= 2 && s;
  }, 30000, 200);
  const later = await waitFor(`${label}: the video plays`, async () => {
    const s = await viewState(view);
    return Math.abs(s.currentTime - loaded.currentTime) >= 0.1 && !s.paused && s;
  }, 10000, 100);
  check(later.readyState >= 2 && Math.abs(later.currentTime - loaded.currentTime) >= 0.1,
    `${label}: video readyState ${later.readyState}, currentTime ${loaded.currentTime.toFixed(2)} → ${later.currentTime.toFixed(2)}`);
  return later;
}

const desktop = { width: 820, height: 900 };
const phone = { width: 390, height: 844 };
const generate = (prompt, extra = {}) => ({ image: FIRST, last_image: LAST, prompt, duration_seconds: 6, resolution: "720p", ...extra });

try {
  // 1. A task that takes a while, played from its MCP resource (the host approves no media origin).
  {
    const prompt = "A paper boat drifts from a sunny harbour out to the open sea at dusk [mock:duration_ms=14000]";
    const { page, view } = await open({ tool: "generate_transition_video", args: generate(prompt), theme: "light", approveMedia: false, viewport: desktop });
    const seen = [];
    let shotTaken = false;
    const final = await waitFor("the task to finish", async () => {
      const s = await viewState(view);
      if (s.progress !== null && seen[seen.length - 1] !== Number(s.progress)) seen.push(Number(s.progress));
      if (!shotTaken && s.state === "waiting" && Number(s.progress) > 0) {
        shotTaken = true;
        await shot(page, "waiting");
        check(s.status.includes("%") && s.prompt.startsWith("A paper boat"), `waiting: status "${s.status}", prompt shown`);
        check(/720p/.test(s.settings) && /6 s/.test(s.settings), `waiting: settings shown (${s.settings})`);
      }
      return s.state !== "waiting" && s.state !== "starting" && s;
    }, 60000, 250);
    check(seen.length >= 2 && seen.every((v, i) => i === 0 || v > seen[i - 1]), `progress advanced: ${seen.join(" → ")}`);
    check(final.state === "succeeded", `the task succeeded in the view (${final.state}: ${final.reason} ${final.advice})`);
    const s = await playing(view, "resource");
    check(s.src.startsWith("data:video/mp4;base64,"), `played from the MCP resource (${s.src.slice(0, 40)}…)`);
    check(luminance(s.background) > 0.6, `light theme followed (${s.background})`);
    const log = await page.evaluate(() => window.hostState.log);
    const polls = log.filter((m) => m.method === "tools/call" && m.params.name === "get_task_result");
    check(polls.length >= 2 && polls.every((m) => m.params.arguments.wait_seconds <= 10), `the view followed the task with ${polls.length} bounded get_task_result calls`);
    check(log.some((m) => m.method === "resources/read" && /^veo:\/\/videos\/.+\/1\.mp4$/.test(m.params.uri)), "the view read the video's veo:// resource");
    await shot(page, "playing");
    await page.close();
  }

  // 2. A phone in dark mode, the host approving the server's origin: played from the signed link.
  {
    const prompt = "Night falls over the city skyline, lights coming on one by one [mock:duration_ms=3000]";
    const { page, view } = await open({ tool: "generate_transition_video", args: generate(prompt, { aspect_ratio: "9:16", sample_count: 2 }), theme: "dark", approveMedia: true, viewport: phone });
    const declared = await page.evaluate(() => window.hostState.declaredCsp);
    check(JSON.stringify(declared) === JSON.stringify({ resourceDomains: [veoOrigin] }), `the view declares only the server's origin (${JSON.stringify(declared)})`);
    const s = await playing(view, "link");
    check(s.src.startsWith(`${veoOrigin}/videos/`), `played from the signed link (${s.src.slice(0, 60)}…)`);
    check(luminance(s.background) < 0.3, `dark theme followed (${s.background})`);
    check(s.overflow <= 0, `fits a phone's width (overflow ${s.overflow}px)`);
    await shot(page, "playing-phone-dark");
    // Two videos: a button each; the second plays when chosen.
    const buttons = await view.locator("#choices button").allTextContents();
    check(buttons.join(",") === "Video 1,Video 2", `two videos, two buttons (${buttons.join(", ")})`);
    await view.locator("#choices button").nth(1).click();
    const second = await waitFor("the second video", async () => {
      const now = await viewState(view);
      return /\/2\.mp4\?/.test(now.src) && now.readyState >= 2 && now;
    }, 20000, 200);
    check(Boolean(second), `the second video plays from its own link (${second.src.slice(0, 60)}…)`);
    await page.close();
  }

  // 3. A task that fails: its reason and what to do.
  {
    const reason = "The prompt was flagged by the safety filter";
    const prompt = `A storm rolls in over the wheat field [mock:fail=${reason}] [mock:duration_ms=2500]`;
    const { page, view } = await open({ tool: "generate_transition_video", args: generate(prompt), theme: "light", approveMedia: false, viewport: desktop });
    const s = await waitFor("the failure", async () => {
      const s = await viewState(view);
      return s.failureShown && s;
    }, 30000, 200);
    check(s.state === "failed" && s.reason.includes(reason), `failed task: reason shown ("${s.reason}")`);
    check(s.advice.length > 20, `failed task: what to do shown ("${s.advice}")`);
    await shot(page, "failed");
    await page.close();
  }

  // 4. A submit refused before anything is sent: the error and its fix, in the view.
  {
    const { page, view } = await open({ tool: "generate_transition_video", args: generate("A calm lake", { duration_seconds: 5 }), theme: "dark", approveMedia: false, viewport: phone });
    const s = await waitFor("the refusal", async () => {
      const s = await viewState(view);
      return s.failureShown && s;
    }, 15000, 200);
    check(/duration_seconds/.test(s.reason) && /Nothing was sent/.test(s.advice), `refused submit: "${s.reason}" / "${s.advice.split("\n")[0]}"`);
    await shot(page, "refused-phone-dark");
    await page.close();
  }

  // 5. The view of get_task_result, for a task that is already done.
  {
    const listed = await (await fetch(`${veoOrigin}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "list_tasks" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "list_tasks", arguments: { status: "succeeded", limit: 1 }, _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" } } } }),
    })).text();
    const taskId = JSON.parse(listed.split("\n").find((l) => l.startsWith("data:"))?.slice(5) || listed).result.structuredContent.tasks[0].task_id;
    const { page, view } = await open({ tool: "get_task_result", args: { task_id: taskId, wait_seconds: 0 }, theme: "light", approveMedia: false, viewport: desktop });
    await playing(view, "get_task_result view");
    await new Promise((r) => setTimeout(r, 1500));
    const log = await page.evaluate(() => window.hostState.log);
    const reads = log.filter((m) => m.method === "resources/read").length;
    const sizes = log.filter((m) => m.method === "ui/notifications/size-changed").map((m) => m.params.height);
    const firstSize = log.findIndex((m) => m.method === "ui/notifications/size-changed");
    const initialized = log.findIndex((m) => m.method === "ui/notifications/initialized");
    check(reads === 1, `the finished task's video was read once (${reads})`);
    check(sizes.length >= 1 && sizes.length <= 8, `size reports settle (${sizes.join(" → ")})`);
    check(initialized >= 0 && firstSize > initialized, "no size report before the handshake ends");
    await page.close();

    // 5b. A host that forwards no tool calls and does not say which origins it allows (but
    // allows the server's): the view plays the finished task's signed link, asking nothing.
    const bare = await open({ tool: "get_task_result", args: { task_id: taskId, wait_seconds: 0 }, theme: "light", approveMedia: true, viewport: desktop, without: ["serverTools", "sandbox"] });
    const played = await playing(bare.view, "host without serverTools");
    const calls = (await bare.page.evaluate(() => window.hostState.log)).filter((m) => m.method === "tools/call").length;
    check(calls === 0 && played.src.startsWith(`${veoOrigin}/videos/`), `without serverTools the view asks for no tool call (${calls}) and plays the result's link`);
    await bare.page.close();
  }

  // 7. A task id the server does not know: the view says so and stops asking.
  {
    const { page, view } = await open({ tool: "get_task_result", args: { task_id: "no-such-task", wait_seconds: 0 }, theme: "light", approveMedia: false, viewport: desktop });
    const s = await waitFor("the unknown task's error", async () => {
      const now = await viewState(view);
      return now.failureShown && now;
    }, 20000, 200);
    check(/no-such-task/.test(s.reason) && s.advice.length > 0, `unknown task: "${s.reason}" / "${s.advice}"`);
    const count = async () => (await page.evaluate(() => window.hostState.log)).filter((m) => m.method === "tools/call").length;
    const before = await count();
    await new Promise((r) => setTimeout(r, 6000));
    const after = await count();
    check(after === before && before <= 1, `the view stopped asking (${before} → ${after} calls)`);
    await shot(page, "unknown-task");
    await page.close();
  }

  // 6. The official SDKs' host side (ext-apps AppBridge, MCP client): the same view, unchanged.
  {
    const prompt = "Autumn leaves fall and the park turns white with snow [mock:duration_ms=9000]";
    const { page, view } = await open({ tool: "generate_transition_video", args: generate(prompt), theme: "dark", approveMedia: false, viewport: desktop, sdk: true });
    const seen = new Set();
    await waitFor("the task to finish (SDK host)", async () => {
      const s = await viewState(view);
      if (s.progress !== null) seen.add(s.progress);
      return s.state === "succeeded" && s;
    }, 60000, 250);
    const s = await playing(view, "SDK host");
    check(await page.evaluate(() => window.hostState.sdk === true && !window.hostState.problem), "the SDK host ran the view without a problem");
    check(seen.size >= 1 && s.src.startsWith("data:video/mp4;base64,"), `SDK host: progress seen (${[...seen].join(", ")}), played from the resource`);
    await shot(page, "sdk-host-dark");
    await page.close();
  }
} catch (error) {
  check(false, error.stack || String(error));
} finally {
  await browser.close();
  site.close();
  for (const child of children) child.kill();
  if (failures.length) {
    console.log("veo-mcp log (tail):\n" + veo.output.split("\n").slice(-30).join("\n"));
  }
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(failures.length ? `player: ${failures.length} check(s) FAILED` : "player: all checks passed");
process.exit(failures.length ? 1 : 0);
