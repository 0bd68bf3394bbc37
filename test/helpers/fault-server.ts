// A static file server on 127.0.0.1 for tests: GET/HEAD, Content-Length, `Range: bytes=N-`
// (and N-M), with optional injected faults. Bounded: it stops itself after a timeout.
//
// Two transports share one request plan: without faults, Bun.serve (sendfile, fast enough for
// the benchmark); with faults, node:http (still Bun's native server), because Bun.serve
// re-frames every streamed body as chunked and recomputes Content-Length, so "a body shorter
// than its Content-Length" or a reset after N bytes of a sized body cannot be produced there.
import { createReadStream, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join, posix } from "node:path";

export interface RequestRecord {
  method: string;
  path: string;
  range?: string;
  userAgent?: string;
  /** Name of the fault injected into this request, if any. */
  fault?: string;
}

export interface Served {
  url: string;
  requests: RequestRecord[];
  stop(): void;
}

/** What a request resolves to before any fault: a byte range of a file, or an error status. */
export type Plan =
  | { status: 404 | 405 }
  | { status: 416; file: string; size: number }
  | { status: 200 | 206; file: string; size: number; start: number; end: number };

export interface FaultContext {
  req: IncomingMessage;
  res: ServerResponse;
  plan: Plan;
  /** Answer as if there were no fault (optionally with another plan). */
  serve(plan?: Plan): Promise<void>;
}

export interface Fault {
  name: string;
  respond(ctx: FaultContext): Promise<void>;
}

/**
 * Which requests get which fault. A map from path (exact, or a glob with `*`) to a fault for
 * every request, or to a list applied in request order (`[status(500), status(500)]`: two
 * failures, then normal; `null` in the list means a normal answer). Or a function of the path
 * and the 1-based count of requests to it so far.
 */
export type FaultSpec = Record<string, Fault | Array<Fault | null>> | ((path: string, count: number) => Fault | null | undefined);

export interface ServeOptions {
  faults?: FaultSpec;
  /** Stop by itself after this long even if a test forgets (default 120 s). */
  timeoutMs?: number;
}

// ---------- planning: request → file range ----------

/** The file under `root` a URL path names, or undefined (missing, a directory, or outside root). */
function fileFor(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const rel = posix.normalize(`/${decoded}`);
  if (rel.split("/").includes("..") || decoded.includes("\0")) return undefined;
  const file = join(root, rel);
  return statSync(file, { throwIfNoEntry: false })?.isFile() ? file : undefined;
}

/** `bytes=N-` or `bytes=N-M` → [start, end) of a file of `size`; "unsatisfiable"; or undefined to ignore it. */
export function parseRange(header: string | undefined | null, size: number): [number, number] | "unsatisfiable" | undefined {
  const m = header?.match(/^bytes=(\d+)-(\d*)$/);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]) + 1, size) : size;
  if (start >= size || end <= start) return "unsatisfiable";
  return [start, end];
}

export function plan(root: string, method: string, urlPath: string, range: string | undefined): Plan {
  if (method !== "GET" && method !== "HEAD") return { status: 405 };
  const file = fileFor(root, urlPath);
  if (!file) return { status: 404 };
  const size = statSync(file).size;
  const r = parseRange(range, size);
  if (r === "unsatisfiable") return { status: 416, file, size };
  if (!r) return { status: 200, file, size, start: 0, end: size };
  return { status: 206, file, size, start: r[0], end: r[1] };
}

function headersFor(p: Plan): Record<string, string> {
  if (p.status === 416) return { "content-range": `bytes */${p.size}` };
  if (p.status !== 200 && p.status !== 206) return {};
  const h: Record<string, string> = { "content-length": String(p.end - p.start), "accept-ranges": "bytes", "content-type": "application/octet-stream" };
  if (p.status === 206) h["content-range"] = `bytes ${p.start}-${p.end - 1}/${p.size}`;
  return h;
}

// ---------- fault selection ----------

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** Turns a FaultSpec into a per-request chooser that counts requests per rule. */
function faultChooser(spec: FaultSpec | undefined): (path: string) => Fault | undefined {
  if (!spec) return () => undefined;
  const counts = new Map<string, number>();
  const next = (key: string) => {
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return n;
  };
  if (typeof spec === "function") return (path) => spec(path, next(path)) ?? undefined;
  const rules = Object.entries(spec).map(([key, f]) => ({ key, re: globToRegExp(key), f }));
  return (path) => {
    const rule = rules.find((r) => r.re.test(path));
    if (!rule) return undefined;
    const n = next(rule.key);
    return Array.isArray(rule.f) ? (rule.f[n - 1] ?? undefined) : rule.f;
  };
}

// ---------- transports ----------

function bunResponse(p: Plan, method: string): Response {
  const headers = headersFor(p);
  if (p.status !== 200 && p.status !== 206) return new Response(method === "HEAD" ? null : `${p.status}\n`, { status: p.status, headers });
  return new Response(method === "HEAD" ? null : Bun.file(p.file).slice(p.start, p.end), { status: p.status, headers });
}

/** Write a chunk, waiting for drain; false once the client is gone. */
export function write(res: ServerResponse, chunk: Uint8Array): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}

/** The planned bytes of a file, in chunks, stopping after `limit` bytes. */
export async function* planBytes(p: Plan, limit = Infinity): AsyncGenerator<Uint8Array> {
  if (p.status !== 200 && p.status !== 206) return;
  const end = Math.min(p.end, p.start + limit);
  if (end <= p.start) return;
  for await (const chunk of createReadStream(p.file, { start: p.start, end: end - 1 })) yield chunk as Uint8Array;
}

/** The normal answer on node:http: headers, then the planned bytes unless HEAD. */
async function serveNode(req: IncomingMessage, res: ServerResponse, p: Plan) {
  const body = p.status === 200 || p.status === 206 ? undefined : `${p.status}\n`;
  res.writeHead(p.status, headersFor(p));
  if (req.method === "HEAD") return void res.end();
  if (body) return void res.end(body);
  for await (const chunk of planBytes(p)) if (!(await write(res, chunk))) return;
  res.end();
}

function record(requests: RequestRecord[], method: string, path: string, range: string | undefined | null, userAgent: string | undefined | null, fault?: Fault) {
  requests.push({ method, path, ...(range ? { range } : {}), ...(userAgent ? { userAgent } : {}), ...(fault ? { fault: fault.name } : {}) });
}

function startBun(root: string, requests: RequestRecord[]) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      const range = req.headers.get("range");
      record(requests, req.method, path, range, req.headers.get("user-agent"));
      return bunResponse(plan(root, req.method, path, range ?? undefined), req.method);
    },
  });
  return { port: server.port!, stop: () => void server.stop(true) };
}

async function startNode(root: string, requests: RequestRecord[], faults: FaultSpec) {
  const choose = faultChooser(faults);
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const p = plan(root, req.method ?? "GET", path, req.headers.range);
    const fault = choose(path);
    record(requests, req.method ?? "GET", path, req.headers.range, req.headers["user-agent"], fault);
    const serve = (other?: Plan) => serveNode(req, res, other ?? p);
    (fault ? fault.respond({ req, res, plan: p, serve }) : serve()).catch(() => res.destroy());
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const stop = () => {
    server.close();
    // Stalled and endless responses hold their sockets open: cut them.
    for (const s of sockets) s.destroy();
  };
  return { port: (server.address() as AddressInfo).port, stop };
}

/** Serve `dir` on 127.0.0.1 (a random port) until stop() or the timeout. */
export async function serveDir(dir: string, opts: ServeOptions = {}): Promise<Served> {
  const requests: RequestRecord[] = [];
  const server = opts.faults ? await startNode(dir, requests, opts.faults) : startBun(dir, requests);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    server.stop();
  };
  const timer = setTimeout(stop, opts.timeoutMs ?? 120_000);
  timer.unref();
  return { url: `http://127.0.0.1:${server.port}`, requests, stop };
}

// ---------- the fault kinds ----------

const isFile = (p: Plan): p is Extract<Plan, { file: string }> => p.status === 200 || p.status === 206;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Headers of the normal answer, then the first `bytes` of its body; the caller decides how it ends. */
async function partial(ctx: FaultContext, bytes: number): Promise<boolean> {
  ctx.res.writeHead(ctx.plan.status, headersFor(ctx.plan));
  ctx.res.flushHeaders();
  for await (const chunk of planBytes(ctx.plan, bytes)) if (!(await write(ctx.res, chunk))) return false;
  return true;
}

/** Body faults need a file to cut; for a 404 they answer normally. */
const bodyFault = (name: string, respond: (ctx: FaultContext & { plan: Extract<Plan, { file: string }> }) => Promise<void>): Fault => ({
  name,
  respond: (ctx) => (isFile(ctx.plan) && ctx.req.method !== "HEAD" ? respond(ctx as FaultContext & { plan: Extract<Plan, { file: string }> }) : ctx.serve()),
});

/** Answer with this status and a short text body (500 then ok: `[status(500)]`). */
export const status = (code: number): Fault => ({
  name: `status(${code})`,
  respond: async ({ res }) => void res.writeHead(code, { "content-type": "text/plain" }).end(`injected ${code}\n`),
});

/** Full Content-Length, `afterBytes` of body, then the connection is destroyed (RST where supported). */
export const resetMidBody = (afterBytes: number): Fault =>
  bodyFault(`resetMidBody(${afterBytes})`, async (ctx) => {
    await partial(ctx, afterBytes);
    const s = ctx.res.socket as (Socket & { resetAndDestroy?: () => void }) | null;
    if (s?.resetAndDestroy) s.resetAndDestroy();
    else s?.destroy();
  });

/** Full Content-Length, only `bytes` of body, then a clean close (FIN): a truncated response. */
export const shortBody = (bytes: number): Fault =>
  bodyFault(`shortBody(${bytes})`, async (ctx) => {
    if (await partial(ctx, bytes)) ctx.res.socket?.end();
  });

/** `afterBytes` of body, then silence until the client gives up or the server stops. */
export const stall = (afterBytes: number): Fault => bodyFault(`stall(${afterBytes})`, async (ctx) => void (await partial(ctx, afterBytes)));

/** 200 with no Content-Length and a body that never ends (until the client hangs up). */
export const endless = (): Fault => ({
  name: "endless()",
  respond: async ({ res }) => {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    const block = new Uint8Array(64 * 1024).fill(0x5a);
    while (await write(res, block));
  },
});

/** The normal answer with one byte flipped (the first of the body): same length, wrong hash. */
export const wrongBytes = (): Fault =>
  bodyFault("wrongBytes()", async (ctx) => {
    ctx.res.writeHead(ctx.plan.status, headersFor(ctx.plan));
    let first = true;
    for await (const chunk of planBytes(ctx.plan)) {
      const out = first ? Uint8Array.from(chunk, (b, i) => (i === 0 ? b ^ 0xff : b)) : chunk;
      first = false;
      if (!(await write(ctx.res, out))) return;
    }
    ctx.res.end();
  });

/** 200 with `text` instead of the file (e.g. a checksum file that is garbage). */
export const garbage = (text: string): Fault => ({
  name: `garbage(${JSON.stringify(text.slice(0, 20))})`,
  respond: async ({ res }) => void res.writeHead(200, { "content-type": "text/plain", "content-length": String(Buffer.byteLength(text)) }).end(text),
});

/** 302 to `to` (a path on this server or an absolute URL). */
export const redirect = (to: string): Fault => ({
  name: `redirect(${to})`,
  respond: async ({ res }) => void res.writeHead(302, { location: to, "content-length": "0" }).end(),
});

/** 302 to the same URL, forever. */
export const redirectLoop = (): Fault => ({
  name: "redirectLoop()",
  respond: async ({ req, res }) => void res.writeHead(302, { location: req.url ?? "/", "content-length": "0" }).end(),
});

/** The whole normal answer, `bytesPerChunk` at a time with `delayMs` between chunks. */
export const trickle = (bytesPerChunk: number, delayMs: number): Fault =>
  bodyFault(`trickle(${bytesPerChunk},${delayMs})`, async (ctx) => {
    ctx.res.writeHead(ctx.plan.status, headersFor(ctx.plan));
    ctx.res.flushHeaders();
    for await (const chunk of planBytes(ctx.plan)) {
      for (let i = 0; i < chunk.length; i += bytesPerChunk) {
        if (!(await write(ctx.res, chunk.subarray(i, i + bytesPerChunk)))) return;
        await sleep(delayMs);
      }
    }
    ctx.res.end();
  });

/** Ignore Range: always 200 with the whole file, as a server without range support does. */
export const noRange = (): Fault => ({
  name: "noRange()",
  respond: ({ plan: p, serve }) => serve("file" in p ? { status: 200, file: p.file, size: p.size, start: 0, end: p.size } : p),
});
