// A download runs on its byte worker whole (src/artifacts/asset-sink.ts, byte-worker.ts): the
// main thread's download limit still bounds the requests in flight, its progress still comes
// back, and an interruption reaches the worker whenever it comes, even before the job has opened.
// A new job goes to the worker with the least work left, not the fewest jobs.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { AssetSink, leastLoaded, workLeft } from "../../src/artifacts/asset-sink";
import type { DownloadOptions } from "../../src/http/download";
import { Limit } from "../../src/http/limit";
import { tempDir } from "../helpers/tmp";

const BODY = crypto.getRandomValues(new Uint8Array(1 << 20));
const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

// Each response holds the connection for a while, so overlapping requests would be seen.
let inFlight = 0;
let mostInFlight = 0;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch() {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await Bun.sleep(150);
    inFlight--;
    return new Response(BODY);
  },
});
afterAll(() => server.stop(true));
const url = `http://127.0.0.1:${server.port}/asset`;

const options = (limit: Limit, signal = new AbortController().signal): DownloadOptions => ({ signal, limit, attempts: 1, stallMs: 10_000, totalMs: 30_000, maxBytes: 1 << 30 });

test("downloads on the workers keep to the main thread's limit, and report their progress", async () => {
  mostInFlight = 0;
  const limit = new Limit(1);
  const seen: number[][] = [[], [], []];
  const results = await Promise.all(
    seen.map((bytes, i) =>
      new AssetSink().download(url, 0, {
        ...options(limit),
        onResponse: (total) => bytes.push(total ?? -1),
        onBytes: (n) => bytes.push(n),
      }).then((r) => (expect(seen[i]!.at(-1)).toBe(BODY.length), r)),
    ),
  );
  expect(mostInFlight).toBe(1);
  for (const r of results) expect(r.sha256).toBe(sha256(BODY));
  for (const bytes of seen) expect(bytes[0]).toBe(BODY.length);
});

// The waiting download unpacks an archive, so its job's open waits for the tar parser to load in
// the worker while the interruption comes: it must not be lost (else the download would run, and
// fail on its bytes, which are no tar.gz).
test("an interruption while a download waits for its slot fails it as an interruption, and frees every slot", async () => {
  const limit = new Limit(1);
  const busy = new AssetSink().download(url, 0, options(limit));
  const stop = new AbortController();
  const root = tempDir("worker-download");
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  const target = { root, dir: "usr/local/bin", source: "test.tar.gz", maxBytes: 1 << 30 };
  const waiting = new AssetSink(undefined, { artifact: "crictl", target }).download(url, 0, options(limit, stop.signal));
  stop.abort();
  const failed = await waiting.then(
    () => undefined,
    (err: Error) => err,
  );
  expect(failed?.name).toBe("AbortError");
  expect((await busy).sha256).toBe(sha256(BODY));
  // The limit is whole again: a third download gets its slot.
  expect((await new AssetSink().download(url, 0, options(limit))).sha256).toBe(sha256(BODY));
  expect(readdirSync(join(root, "usr/local/bin"))).toEqual([]);
});

const MiB = 1 << 20;

test("a job's work left is its bytes still to come, an archive's weighing more than a plain file's", () => {
  const plain = workLeft({ expected: 40 * MiB, received: 10 * MiB, unpacks: false });
  expect(plain).toBe(30 * MiB);
  expect(workLeft({ expected: 40 * MiB, received: 10 * MiB, unpacks: true })).toBeGreaterThan(2 * plain);
  // A response longer than expected has more bytes still to come; none is ever less than nothing.
  expect(workLeft({ expected: 50 * MiB, received: 10 * MiB, unpacks: false })).toBe(40 * MiB);
  expect(workLeft({ expected: 0, received: 10 * MiB, unpacks: false })).toBe(0);
});

test("a new job goes to the worker with the least work left, whatever the number of its jobs", () => {
  const job = (mib: number, unpacks: boolean, receivedMiB = 0) => ({ workLeft: () => workLeft({ expected: mib * MiB, received: receivedMiB * MiB, unpacks }) });
  const kubeletAndRunc = [job(110, false), job(9, false)];
  expect(leastLoaded([kubeletAndRunc, [job(46, false)]])).toBe(1);
  // Two small archives left are less work than the biggest binary just begun.
  const twoArchives = [job(8, true), job(5, true)];
  expect(leastLoaded([kubeletAndRunc, twoArchives])).toBe(1);
  expect(leastLoaded([twoArchives, kubeletAndRunc])).toBe(0);
  // Halfway through it, kubelet's worker has less left than one with a whole archive to unpack.
  expect(leastLoaded([[job(28, true)], [job(110, false, 55)]])).toBe(1);
  // A tie (two idle workers) goes to the first.
  expect(leastLoaded([[], []])).toBe(0);
});
