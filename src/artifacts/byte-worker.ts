// The byte work of asset downloads, on a thread of its own (a Bun Worker): each job's bytes are
// appended to its cache part file, hashed, and for an archive being installed, inflated, parsed
// and staged beside their final place in the rootfs. A download runs here whole (fetch, retries,
// resume), so its bytes never cross threads; the main thread grants it a download slot, relays
// an interruption and shows its progress (asset-sink.ts). Bytes the main thread reads itself (a
// cache file) are sent here. Compiled, this file is an entrypoint of its own (scripts/build.ts).
// No top-level await: bytecode builds are CommonJS.
import { download, type DownloadOptions, type Sink } from "../http/download";
import { HashingSink } from "../http/hashing-sink";
import { CATALOG } from "./catalog";
import { errorOf, failureOf, type Failure } from "./failure";
import { archiveUnpacker, loadTar, type StagedFile, type UnpackTarget, type Unpacker } from "./unpack";
import type { ArtifactName } from "../config/schema";

/** A download's options as they cross threads: the slot, the interruption and the progress stay with the main thread. */
export type RemoteDownload = Omit<DownloadOptions, "signal" | "limit" | "onResponse" | "onBytes">;

/** What the main thread asks. `bytes` are transferred, not copied. */
export type Request =
  | { op: "open"; id: number; part?: { fd: number; path: string }; unpack?: { artifact: ArtifactName; target: UnpackTarget } }
  /** bytes already on disk (a cache file): hashed and unpacked, not written */
  | { op: "bytes"; id: number; bytes: Uint8Array }
  | { op: "end"; id: number }
  | { op: "discard"; id: number }
  /** download `url` into the open job (its part's first `resumeFrom` bytes replayed first), then end it; its first attempt's slot is already granted */
  | { op: "download"; id: number; url: string; options: RemoteDownload; resumeFrom: number }
  /** the download may start an attempt now (the answer to acquire) */
  | { op: "slot"; id: number }
  /** the run was interrupted: stop the download */
  | { op: "abort"; id: number };

/** What the worker answers: every chunk is acknowledged (the sender's backpressure), a failure at once. */
export type Reply =
  | { op: "ack"; id: number; bytes: number }
  /** `final`: the answer to end; else the bytes went bad on the way (the sender stops sending) */
  | { op: "failed"; id: number; failure: Failure; final: boolean }
  | { op: "done"; id: number; sha256: string; staged: StagedFile[] }
  | { op: "discarded"; id: number }
  /** a download asks for a slot of the run's download limit, and gives it back */
  | { op: "acquire"; id: number }
  | { op: "release"; id: number }
  /** a download's response came (`total` bytes in all if known, `offset` of them resumed), and its bytes so far */
  | { op: "response"; id: number; total?: number; offset: number }
  | { op: "progress"; id: number; received: number };

interface Job {
  sink: HashingSink;
  newUnpacker(): Unpacker | undefined;
  unpacker?: Unpacker;
  failure?: Failure;
  /** a download's wait for its slot */
  granted?: () => void;
}

declare const self: Worker;
const jobs = new Map<number, Job>();
/** Downloads' interruptions, by job id: one may come before its job has opened (open waits in the queue, an interruption does not). */
const interruptions = new Map<number, AbortController>();
const interruption = (id: number) => interruptions.get(id) ?? interruptions.set(id, new AbortController()).get(id)!;
const reply = (r: Reply) => self.postMessage(r);
/** Progress is posted about every PROGRESS bytes, not per chunk. */
const PROGRESS = 1 << 20;

/** A job's next bytes: into its part file (unless they are already on disk there), its hash and its unpacker. */
function feed(job: Job, chunk: Uint8Array, onDisk: boolean): void {
  if (onDisk) job.sink.replay(chunk);
  else job.sink.write(chunk);
  job.unpacker?.write(chunk);
}

function resetJob(job: Job): void {
  job.unpacker?.discard();
  job.failure = undefined;
  try {
    job.sink.reset();
    job.unpacker = job.newUnpacker();
  } catch (err) {
    job.failure = failureOf(err);
  }
}

/** One download, run here whole and answered as end is: done with the sha256 and the staged files, or failed. */
async function downloadJob(id: number, job: Job, req: Extract<Request, { op: "download" }>): Promise<void> {
  const abort = interruption(id);
  const take = (chunk: Uint8Array, replay: boolean) => {
    if (job.failure) throw errorOf(job.failure);
    feed(job, chunk, replay);
  };
  let posted = 0;
  try {
    if (req.resumeFrom > 0 && job.sink.part) {
      for await (const chunk of Bun.file(job.sink.part.path).slice(0, req.resumeFrom).stream()) take(chunk, true);
    }
    const sink: Sink = {
      get received() {
        return job.sink.received;
      },
      write: (chunk) => take(chunk, false),
      reset: () => resetJob(job),
    };
    let held = true;
    const limit = {
      async run<T>(fn: () => Promise<T>): Promise<T> {
        if (!held) {
          await new Promise<void>((granted) => {
            job.granted = granted;
            reply({ op: "acquire", id });
          });
        }
        held = false;
        try {
          return await fn();
        } finally {
          reply({ op: "release", id });
        }
      },
    };
    await download(req.url, sink, {
      ...req.options,
      signal: abort.signal,
      limit,
      onResponse: (total, offset) => reply({ op: "response", id, total, offset }),
      onBytes: (received) => {
        if (received - posted >= PROGRESS) reply({ op: "progress", id, received: (posted = received) });
      },
    });
    reply({ op: "progress", id, received: job.sink.received });
  } catch (err) {
    jobs.delete(id);
    job.unpacker?.discard();
    return reply({ op: "failed", id, failure: failureOf(err), final: true });
  } finally {
    interruptions.delete(id);
  }
  return end(id, job);
}

async function end(id: number, job: Job): Promise<void> {
  jobs.delete(id);
  try {
    if (job.failure) throw Object.assign(new Error(job.failure.message), { known: job.failure });
    const staged = (await job.unpacker?.end()) ?? [];
    return reply({ op: "done", id, sha256: job.sink.sha256(), staged });
  } catch (err) {
    job.unpacker?.discard();
    return reply({ op: "failed", id, failure: (err as { known?: Failure }).known ?? failureOf(err), final: true });
  }
}

async function handle(req: Request): Promise<void> {
  if (req.op === "open") {
    const unpack = req.unpack;
    if (unpack) await loadTar();
    const payload = unpack && CATALOG[unpack.artifact].payload;
    const newUnpacker = () => (unpack && payload?.kind === "archive" ? archiveUnpacker(payload, unpack.target) : undefined);
    const job: Job = { sink: new HashingSink(req.part), newUnpacker };
    jobs.set(req.id, job);
    try {
      job.unpacker = newUnpacker();
    } catch (err) {
      job.failure = failureOf(err);
    }
    return;
  }
  const job = jobs.get(req.id);
  if (!job) return unknownJob(req);
  switch (req.op) {
    case "bytes":
      if (!job.failure) {
        try {
          feed(job, req.bytes, true);
        } catch (err) {
          job.failure = failureOf(err);
          reply({ op: "failed", id: req.id, failure: job.failure, final: false });
        }
      }
      return reply({ op: "ack", id: req.id, bytes: req.bytes.byteLength });
    case "end":
      return end(req.id, job);
    case "download":
      return downloadJob(req.id, job, req);
    case "discard":
      jobs.delete(req.id);
      job.unpacker?.discard();
      return reply({ op: "discarded", id: req.id });
  }
}

/** A job whose open failed (its failure was sent): every request still gets the answer it waits for. */
function unknownJob(req: Exclude<Request, { op: "open" }>): void {
  if (req.op === "bytes") reply({ op: "ack", id: req.id, bytes: req.bytes.byteLength });
  else if (req.op === "discard") reply({ op: "discarded", id: req.id });
  else if (req.op === "end" || req.op === "download") reply({ op: "failed", id: req.id, failure: { message: "byte worker: the job never opened", bad: false }, final: true });
}

// One request at a time, in the order sent: a job's bytes must reach its files in order. A job's
// end (its files' fsync) and a download do not hold up the other jobs' requests behind them; a
// slot or an interruption is for a download under way, so it is taken at once. A request that
// throws fails its job, never the queue.
let queue = Promise.resolve();
self.onmessage = (e: MessageEvent<Request>) => {
  const req = e.data;
  if (req.op === "slot") return jobs.get(req.id)?.granted?.();
  if (req.op === "abort") return interruption(req.id).abort();
  const fail = (err: unknown) => reply({ op: "failed", id: req.id, failure: failureOf(err), final: false });
  queue = queue.then(() => {
    const handled = handle(req).catch(fail);
    return req.op === "end" || req.op === "download" ? undefined : handled;
  });
};
