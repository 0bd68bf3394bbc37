// The bytes of one asset, on a byte worker (byte-worker.ts), which appends them to the cache part
// file, hashes them and, for an archive being installed, unpacks them on the way. A download runs
// on the worker whole, so its bytes never cross threads; this thread grants it a slot of the
// run's download limit, relays an interruption and shows its progress. Bytes this thread reads
// (a cache file) are sent over; a job never has more than IN_FLIGHT of them waiting for its
// worker, so memory stays flat.
import type { ArtifactName } from "../config/schema";
import type { DownloadOptions } from "../http/download";
import type { Reply, Request } from "./byte-worker";
import { errorOf, type Failure } from "./failure";
import type { StagedFile, UnpackTarget } from "./unpack";

declare const KUBE_ROOTFS_TARGET: string | undefined;

/** Bytes a job may have sent and not yet had acknowledged. */
const IN_FLIGHT = 1 << 20;
/** Byte workers: one per core, up to two (the main thread mostly waits on the network; more would only cost memory). */
const WORKERS = Math.max(1, Math.min(2, navigator.hardwareConcurrency));

// Compiled, the worker is an entrypoint of its own, embedded beside main.ts (scripts/build.ts).
const WORKER_URL = typeof KUBE_ROOTFS_TARGET === "string" ? "/$bunfs/root/artifacts/byte-worker.js" : new URL("./byte-worker.ts", import.meta.url).href;

interface Pending {
  onReply(r: Reply): void;
  /** the work its worker still has to do for it (workLeft) */
  workLeft(): number;
}

/** Inflating, parsing and staging an archive costs a byte worker about 4× the CPU per byte of a plain file's hash and write. */
const UNPACK_COST = 4;

/**
 * A job's expected work still to do: the bytes still to come (of the response's length, or
 * before it the expected size), an archive's weighed by UNPACK_COST.
 */
export const workLeft = (job: { expected: number; received: number; unpacks: boolean }) => Math.max(0, job.expected - job.received) * (job.unpacks ? UNPACK_COST : 1);

/**
 * The worker to give a new job: the one with the least work left. Placing by the count of jobs
 * instead left one worker with the biggest download and an archive beside it while the other
 * idled, and the biggest download is the run's critical path.
 */
export function leastLoaded(workers: Iterable<Pick<Pending, "workLeft">>[]): number {
  const loads = workers.map((jobs) => [...jobs].reduce((n, job) => n + job.workLeft(), 0));
  return loads.reduce((best, load, i) => (load < loads[best]! ? i : best), 0);
}

interface Slot {
  worker: Worker;
  /** its jobs under way, by id */
  jobs: Map<number, Pending>;
  /** why it stopped, once it has: its jobs fail with this, and it gets no new ones */
  dead?: string;
}

/** The byte workers, started on first use; they never keep the process alive by themselves. */
class WorkerPool {
  private slots: Slot[] = [];
  private nextId = 1;

  /** A new job on the worker with the least work left (a job opens with its download's first slot). */
  open(pending: Pending): { id: number; post(req: Request, transfer?: ArrayBuffer[]): void; close(): void } {
    const live = this.slots.filter((s) => !s.dead);
    if (live.length < WORKERS) live.push(this.start());
    const slot = live[leastLoaded(live.map((s) => s.jobs.values()))]!;
    const id = this.nextId++;
    slot.jobs.set(id, pending);
    if (slot.jobs.size === 1) slot.worker.ref();
    const failed = (message: string): Reply => ({ op: "failed", id, failure: { message, bad: false }, final: true });
    return {
      id,
      post: (req, transfer) => (slot.dead ? pending.onReply(failed(slot.dead)) : slot.worker.postMessage(req, transfer ?? [])),
      close: () => {
        if (slot.jobs.delete(id) && slot.jobs.size === 0) slot.worker.unref();
      },
    };
  }

  private start(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_URL, { smol: true }), jobs: new Map() };
    slot.worker.onmessage = (e: MessageEvent<Reply>) => slot.jobs.get(e.data.id)?.onReply(e.data);
    slot.worker.onerror = (e) => {
      // A worker that stops fails every job it had, by name, rather than leaving them waiting.
      slot.dead = `byte worker: ${e.message}`;
      for (const [id, p] of slot.jobs) p.onReply({ op: "failed", id, failure: { message: slot.dead, bad: false }, final: true });
    };
    slot.worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

let pool: WorkerPool | undefined;

/** What a download on the worker needs of this thread. */
interface Remote {
  limit: DownloadOptions["limit"];
  onResponse?: DownloadOptions["onResponse"];
  onBytes?: DownloadOptions["onBytes"];
  /** gives back the slot the download holds, if it holds one */
  release?: () => void;
}

/** Bytes of one asset: into the cache part file (when downloading), the hash and, for an archive, the unpacker; all on a byte worker. */
export class AssetSink {
  /** bytes the worker has had so far (what is left of a job's work is counted from it) */
  private received = 0;
  private inFlight = 0;
  private failure?: Failure;
  private wake?: () => void;
  private settle?: (r: Reply) => void;
  private closed = false;
  private opened?: ReturnType<WorkerPool["open"]>;
  private remote?: Remote;
  /** the job's final answer came */
  private settled = false;

  /** `part`: the cache part file the bytes are appended to; `unpack`: an archive to stage into the rootfs; `expected`: its size as far as known before a response says. */
  constructor(
    private readonly part?: { fd: number; path: string },
    private readonly unpack?: { artifact: ArtifactName; target: UnpackTarget },
    private expected = 0,
  ) {}

  /**
   * The job on its worker, opened with the first bytes or the download's first slot: the sinks
   * of every artifact are made at once, but their downloads start as the concurrency limit lets
   * them, and a worker is chosen by the work it has at that moment.
   */
  private get job() {
    if (!this.opened) {
      const workLeftOf = () => workLeft({ expected: this.expected, received: this.received, unpacks: !!this.unpack });
      this.opened = (pool ??= new WorkerPool()).open({ onReply: (r) => this.onReply(r), workLeft: workLeftOf });
      this.opened.post({ op: "open", id: this.opened.id, ...(this.part ? { part: this.part } : {}), ...(this.unpack ? { unpack: this.unpack } : {}) });
    }
    return this.opened;
  }

  private onReply(r: Reply) {
    if (r.op === "ack") this.inFlight -= r.bytes;
    else if (r.op === "failed") this.failure ??= r.failure;
    else if (r.op === "acquire") this.grantSlot();
    else if (r.op === "release") this.remote?.release?.();
    else if (r.op === "response") {
      if (r.total !== undefined) this.expected = r.total;
      this.remote?.onResponse?.(r.total, r.offset);
    }
    else if (r.op === "progress") this.remote?.onBytes?.((this.received = r.received));
    if (r.op === "done" || r.op === "discarded" || (r.op === "failed" && r.final)) {
      this.settle?.(r);
      // A slot never outlives its download, whatever ended it (a worker that stopped, say).
      this.remote?.release?.();
    }
    this.wake?.();
  }

  /** A slot of the download limit for the worker's next attempt, held until it says release. */
  private grantSlot() {
    this.holdSlot(() => this.job.post({ op: "slot", id: this.job.id }));
  }

  /** Wait for a slot of the download limit, then `granted`; the slot is held until the worker says release. */
  private holdSlot(granted: () => void) {
    const remote = this.remote;
    if (!remote) return;
    void remote.limit.run(
      () =>
        new Promise<void>((release) => {
          if (this.settled) return release();
          remote.release = () => {
            remote.release = undefined;
            release();
          };
          granted();
        }),
    );
  }

  /**
   * Bytes that are already on disk (a cache file): hashed and unpacked on the worker, not
   * rewritten. Wait for it before the next; a chunk that is all of its buffer is taken over
   * (the caller must not use it again).
   */
  replay(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failure) throw errorOf(this.failure);
    // The worker takes the chunk's memory over when the chunk is all of it (a file stream's
    // chunks are); a view into a larger buffer is copied, as its owner may use the rest.
    const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
    const bytes = whole ? chunk : chunk.slice();
    this.received += bytes.byteLength;
    this.inFlight += bytes.byteLength;
    this.job.post({ op: "bytes", id: this.job.id, bytes }, [bytes.buffer as ArrayBuffer]);
    return this.inFlight > IN_FLIGHT ? this.drained() : undefined;
  }

  private async drained(): Promise<void> {
    while (this.inFlight > IN_FLIGHT && !this.failure) await new Promise<void>((r) => (this.wake = r));
    this.wake = undefined;
    if (this.failure) throw errorOf(this.failure);
  }

  private finalReply(req: Request): Promise<Reply> {
    this.closed = true;
    return new Promise<Reply>((resolve) => {
      this.settle = resolve;
      this.job.post(req);
    }).finally(() => {
      this.settled = true;
      this.job.close();
    });
  }

  /**
   * Download `url` on the worker into the part file (after replaying its first `resumeFrom`
   * bytes, already there), with `opts`' retries, timeouts, cap, slot, interruption and
   * progress; then as finish.
   */
  async download(url: string, resumeFrom: number, opts: DownloadOptions): Promise<{ sha256: string; staged: StagedFile[] }> {
    const { signal, limit, onResponse, onBytes, ...options } = opts;
    this.remote = { limit, onResponse, onBytes };
    const abort = () => this.job.post({ op: "abort", id: this.job.id });
    signal.addEventListener("abort", abort, { once: true });
    try {
      if (signal.aborted) abort();
      // The job opens with its first slot, so it goes to the worker with the least work left then.
      const reply = await new Promise<Reply>((resolve) => this.holdSlot(() => resolve(this.finalReply({ op: "download", id: this.job.id, url, options, resumeFrom }))));
      return this.result(reply);
    } finally {
      signal.removeEventListener("abort", abort);
    }
  }

  private result(r: Reply): { sha256: string; staged: StagedFile[] } {
    if (r.op === "done") return { sha256: r.sha256, staged: r.staged };
    throw errorOf(r.op === "failed" ? r.failure : { message: "byte worker: no result", bad: false });
  }

  /** Every byte is in: the sha256 of all of them, and the files staged from an archive. */
  async finish(): Promise<{ sha256: string; staged: StagedFile[] }> {
    return this.result(await this.finalReply({ op: "end", id: this.job.id }));
  }

  /** Remove everything staged so far; done when the worker has. (After finish, there is nothing left to the worker.) */
  async discard(): Promise<void> {
    if (this.opened && !this.closed) await this.finalReply({ op: "discard", id: this.opened.id });
  }
}
