// The byte work of asset downloads, on a thread of its own (a Bun Worker): each job's bytes are
// appended to its cache part file, hashed, and for an archive being installed, inflated, parsed
// and staged beside their final place in the rootfs. The main thread only moves bytes from the
// network or the cache to here (asset-sink.ts), so the two run on two cores. Compiled, this file
// is an entrypoint of its own (scripts/build.ts). No top-level await: bytecode builds are CommonJS.
import { HashingSink } from "../http/hashing-sink";
import { CATALOG } from "./catalog";
import { archiveUnpacker, BadContent, loadTar, type StagedFile, type UnpackTarget, type Unpacker } from "./unpack";
import type { ArtifactName } from "../config/schema";

/** What the main thread asks. `bytes` are transferred, not copied. */
export type Request =
  | { op: "open"; id: number; part?: { fd: number; path: string }; unpack?: { artifact: ArtifactName; target: UnpackTarget } }
  | { op: "bytes"; id: number; bytes: Uint8Array; replay: boolean }
  | { op: "reset"; id: number }
  | { op: "end"; id: number }
  | { op: "discard"; id: number };

/** A failure as it crosses threads: its message, and whether the bytes themselves are bad. */
export interface Failure {
  message: string;
  bad: boolean;
}

/** What the worker answers: every chunk is acknowledged (the sender's backpressure), a failure at once. */
export type Reply =
  | { op: "ack"; id: number; bytes: number }
  /** `final`: the answer to end; else the bytes went bad on the way (the sender stops sending) */
  | { op: "failed"; id: number; failure: Failure; final: boolean }
  | { op: "done"; id: number; sha256: string; staged: StagedFile[] }
  | { op: "discarded"; id: number };

interface Job {
  sink: HashingSink;
  newUnpacker(): Unpacker | undefined;
  unpacker?: Unpacker;
  failure?: Failure;
}

declare const self: Worker;
const jobs = new Map<number, Job>();
const reply = (r: Reply) => self.postMessage(r);
const failureOf = (err: unknown): Failure => ({ message: err instanceof Error ? err.message : String(err), bad: err instanceof BadContent });

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
          if (req.replay) job.sink.replay(req.bytes);
          else job.sink.write(req.bytes);
          job.unpacker?.write(req.bytes);
        } catch (err) {
          job.failure = failureOf(err);
          reply({ op: "failed", id: req.id, failure: job.failure, final: false });
        }
      }
      return reply({ op: "ack", id: req.id, bytes: req.bytes.byteLength });
    case "reset":
      job.unpacker?.discard();
      job.failure = undefined;
      try {
        job.sink.reset();
        job.unpacker = job.newUnpacker();
      } catch (err) {
        job.failure = failureOf(err);
      }
      return;
    case "end": {
      jobs.delete(req.id);
      try {
        if (job.failure) throw Object.assign(new Error(job.failure.message), { known: job.failure });
        const staged = (await job.unpacker?.end()) ?? [];
        return reply({ op: "done", id: req.id, sha256: job.sink.sha256(), staged });
      } catch (err) {
        job.unpacker?.discard();
        return reply({ op: "failed", id: req.id, failure: (err as { known?: Failure }).known ?? failureOf(err), final: true });
      }
    }
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
  else if (req.op === "end") reply({ op: "failed", id: req.id, failure: { message: "byte worker: the job never opened", bad: false }, final: true });
}

// One request at a time, in the order sent: a job's bytes must reach its files in order. A job's
// end (its files' fsync) does not hold up the other jobs' bytes behind it. A request that throws
// fails its job, never the queue.
let queue = Promise.resolve();
self.onmessage = (e: MessageEvent<Request>) => {
  const req = e.data;
  const fail = (err: unknown) => reply({ op: "failed", id: req.id, failure: failureOf(err), final: false });
  queue = queue.then(() => {
    const handled = handle(req).catch(fail);
    return req.op === "end" ? undefined : handled;
  });
};
