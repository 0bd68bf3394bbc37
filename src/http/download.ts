// One download: bytes streamed into a sink (which hashes, stores and unpacks as they come),
// with bounded redirects, retries with backoff, Range resume, a stall and a total timeout,
// and a size cap. Nothing here holds a whole file in memory.
import { buildInfo } from "../build-info";
import { RunError } from "../errors";
import { abortError, sleep } from "../engine/task";
import { fetchTls } from "./fetch-options";
import type { Limit } from "./limit";

/** Where the bytes go. `received` is the resume offset; `reset` starts over from byte 0. */
export interface Sink {
  readonly received: number;
  /** a promise when the sink wants the next bytes only once it settles; the chunk is the sink's from here on */
  write(chunk: Uint8Array): void | Promise<void>;
  reset(): void;
}

export interface DownloadOptions {
  signal: AbortSignal;
  /** the run's download slots; an attempt holds one */
  limit: Pick<Limit, "run">;
  /** attempts in all */
  attempts: number;
  stallMs: number;
  totalMs: number;
  maxBytes: number;
  /** what sets maxBytes, for messages (default maxDownloadBytes) */
  capName?: string;
  /** first retry delay; doubles per attempt */
  backoffMs?: number;
  /** The response came: `total` bytes in all (if known), `offset` of them already received (a resume). */
  onResponse?(total: number | undefined, offset: number): void;
  onBytes?(received: number): void;
  /** extra request headers (a registry's Authorization) */
  headers?: Record<string, string>;
  /** CA certificates (PEM) trusted for https besides the default roots */
  ca?: string;
}

const MAX_REDIRECTS = 10;

export const USER_AGENT = `kube-rootfs/${buildInfo.version}`;

/** A failure worth another attempt (5xx, reset, truncation, stall). */
class Transient extends Error {}

export async function download(url: string, sink: Sink, opts: DownloadOptions): Promise<void> {
  const deadline = AbortSignal.timeout(opts.totalMs);
  let delay = opts.backoffMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      await opts.limit.run(() => attemptOnce(url, sink, opts, deadline));
      return;
    } catch (err) {
      if (opts.signal.aborted) throw abortError();
      if (deadline.aborted) throw new RunError(`${url}: no complete download within ${opts.totalMs / 1000}s (total timeout)`);
      if (!(err instanceof Transient)) throw err;
      if (attempt >= opts.attempts) throw new RunError(`${url}: ${err.message} (gave up after ${attempt} attempts)`);
      await sleep(delay * (0.75 + Math.random() / 2), opts.signal);
      delay *= 2;
    }
  }
}

async function attemptOnce(url: string, sink: Sink, opts: DownloadOptions, deadline: AbortSignal): Promise<void> {
  if (url.startsWith("file:")) return readLocal(url, sink, opts);
  const stall = new AbortController();
  const signal = AbortSignal.any([opts.signal, deadline, stall.signal]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stall.abort(), opts.stallMs);
  };
  const transient = (what: string) => new Transient(stall.signal.aborted ? `no data for ${opts.stallMs / 1000}s (stalled)` : what);
  arm();
  try {
    const headers = { ...opts.headers, ...(sink.received > 0 ? { range: `bytes=${sink.received}-` } : {}) };
    const res = await fetchFollowing(url, { signal, headers, ca: opts.ca }).catch((err) => {
      if (err instanceof RunError || opts.signal.aborted || deadline.aborted) throw err;
      throw transient(`connection failed: ${(err as Error).message}`);
    });
    const total = expectedTotal(url, res, sink, opts);
    opts.onResponse?.(total, sink.received);
    if (!res.body) throw new Transient("empty response");
    try {
      for await (const chunk of res.body) {
        arm();
        if (sink.received + chunk.byteLength > opts.maxBytes) {
          throw new RunError(`${url}: response larger than ${cap(opts)}`);
        }
        await sink.write(chunk);
        opts.onBytes?.(sink.received);
      }
    } catch (err) {
      if (err instanceof RunError || opts.signal.aborted || deadline.aborted) throw err;
      throw transient(`connection lost after ${sink.received} bytes: ${(err as Error).message}`);
    }
    if (total !== undefined && sink.received < total) throw new Transient(`body ended after ${sink.received} of ${total} bytes (truncated)`);
  } finally {
    clearTimeout(timer);
  }
}

/** A request body that can be sent again (bytes, a Bun.file). */
export type RequestBody = NonNullable<globalThis.RequestInit["body"]>;

export interface FetchOptions extends Pick<DownloadOptions, "signal" | "headers" | "ca"> {
  method?: string;
  body?: RequestBody;
}

/**
 * A request with manual, bounded redirects. Credentials never follow a redirect to another
 * host (a registry sends blob reads to its storage with a signed URL of their own).
 */
export async function fetchFollowing(url: string, init: FetchOptions): Promise<Response> {
  let current = url;
  // Every request says what sent it, so a mirror's operator can tell it apart in the access log.
  let headers: Record<string, string> = { "user-agent": USER_AGENT, ...init.headers };
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await fetch(current, {
      method: init.method ?? "GET",
      headers,
      body: init.body,
      redirect: "manual",
      signal: init.signal,
      // A given CA is added to the default roots, not put in their place.
      tls: await fetchTls({ ca: init.ca }),
    });
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location && (init.method ?? "GET") in FOLLOWED) {
      await res.body?.cancel();
      const next = new URL(location, current);
      if (next.host !== new URL(current).host) headers = withoutAuthorization(headers);
      current = next.href;
      continue;
    }
    return res;
  }
  throw new RunError(`${url}: more than ${MAX_REDIRECTS} redirects`);
}

const FOLLOWED = { GET: true, HEAD: true };

const withoutAuthorization = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "authorization"));

const cap = (opts: Pick<DownloadOptions, "maxBytes" | "capName">) => `the ${opts.maxBytes}-byte cap (${opts.capName ?? "maxDownloadBytes"})`;

/** Check the status, handle a resume the server did or did not honour, and return the full size. */
function expectedTotal(url: string, res: Response, sink: Sink, opts: Pick<DownloadOptions, "maxBytes" | "capName">): number | undefined {
  if (res.status === 416 || (res.status === 200 && sink.received > 0)) {
    // The server ignores or rejects our Range: start over from byte 0.
    sink.reset();
    if (res.status === 416) throw new Transient("server refused the resume range");
  }
  if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Transient(`HTTP ${res.status}`);
  if (res.status !== 200 && res.status !== 206) throw new RunError(`${url}: HTTP ${res.status}${res.status === 404 ? " (not found)" : ""}`);
  const length = Number(res.headers.get("content-length") ?? NaN);
  let total: number | undefined = Number.isFinite(length) ? length + sink.received : undefined;
  if (res.status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
    if (!range || Number(range[1]) !== sink.received) {
      sink.reset();
      throw new Transient("server answered a different range");
    }
    if (range[2] !== "*") total = Number(range[2]);
  }
  if (total !== undefined && total > opts.maxBytes) throw new RunError(`${url}: ${total} bytes is larger than ${cap(opts)}`);
  return total;
}

/** file:// mirrors (a bundle on a mounted disk) stream from disk, resuming the same way. */
async function readLocal(url: string, sink: Sink, opts: DownloadOptions): Promise<void> {
  const file = Bun.file(new URL(url).pathname);
  if (!(await file.exists())) throw new RunError(`${url}: not found`);
  if (file.size > opts.maxBytes) throw new RunError(`${url}: ${file.size} bytes is larger than ${cap(opts)}`);
  if (sink.received > file.size) sink.reset();
  opts.onResponse?.(file.size, sink.received);
  for await (const chunk of file.slice(sink.received).stream()) {
    if (opts.signal.aborted) throw abortError();
    await sink.write(chunk);
    opts.onBytes?.(sink.received);
  }
}

/** A small text file (a checksum file), capped so a lying server cannot fill memory. */
export async function downloadText(url: string, opts: DownloadOptions, maxBytes = 1 << 20): Promise<string> {
  const chunks: Uint8Array[] = [];
  let received = 0;
  const sink: Sink = {
    get received() {
      return received;
    },
    write(c) {
      chunks.push(c);
      received += c.byteLength;
    },
    reset() {
      chunks.length = 0;
      received = 0;
    },
  };
  await download(url, sink, { ...opts, maxBytes });
  return Buffer.concat(chunks).toString("utf8");
}
