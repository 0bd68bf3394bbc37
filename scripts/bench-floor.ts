// The cold install's floor on this machine: what each part of the work costs a core on its own,
// with none of kube-rootfs around it (receiving the bytes with Bun's fetch, sha256, inflating
// the archives as the byte workers do, writing the files), and the wall time those parts need
// at the least when every core is busy all the time. A target under this floor is not reached
// by arranging the work better, only by cheaper parts.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { archiveInflater, loadTar } from "../src/artifacts/unpack";
import type { MirrorAsset } from "./mirror";

const MiB = 1024 * 1024;

export interface ColdFloor {
  /** CPU ms per MiB of each part */
  receive: number;
  hash: number;
  inflate: number;
  write: number;
  /** MiB downloaded, and MiB written (the binaries and what the archives hold) */
  inMiB: number;
  outMiB: number;
  cores: number;
  /** the parts' CPU time spread over every core */
  seconds: number;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const isArchive = (a: MirrorAsset) => /\.(tar\.gz|tgz)$/.test(a.path);

/** Every asset fetched by a process of its own (the mirror's server runs in this one) and thrown away: its CPU per MiB. */
async function receiveCost(urls: string[], inMiB: number): Promise<number> {
  const script = `const t=process.cpuUsage();for(const u of ${JSON.stringify(urls)}){const r=await fetch(u);if(!r.ok)throw new Error(u+": "+r.status);for await(const _ of r.body);}const c=process.cpuUsage(t);console.log((c.user+c.system)/1000)`;
  const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) throw new Error(`receiving the assets for the floor failed (exit ${code})`);
  return Number(out.trim()) / inMiB;
}

/** Each archive through the byte workers' inflater, fed 64 KiB at a time: CPU per MiB out, and the MiB out. */
async function inflateCost(files: string[]): Promise<{ perMiB: number; outMiB: number }> {
  await loadTar();
  let out = 0;
  const started = cpuMs();
  for (const file of files) {
    const data = readFileSync(file);
    const gunzip = archiveInflater();
    gunzip.on("data", (chunk: Buffer) => (out += chunk.length));
    for (let o = 0; o < data.length; o += 64 * 1024) gunzip.write(data.subarray(o, o + 64 * 1024));
    gunzip.end();
  }
  return { perMiB: (cpuMs() - started) / (out / MiB), outMiB: out / MiB };
}

/** 256 MiB written to a file from one reused buffer: CPU per MiB, the least writing the files costs. */
function writeCost(dir: string): number {
  const path = join(dir, "floor-write");
  const block = new Uint8Array(MiB).fill(7);
  const fd = openSync(path, "w");
  const started = cpuMs();
  try {
    for (let i = 0; i < 256; i++) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
  const perMiB = (cpuMs() - started) / 256;
  rmSync(path, { force: true });
  return perMiB;
}

/** The least of three passes: a floor is what the part costs when nothing else gets in its way. */
async function least<T>(pass: () => T | Promise<T>, cost: (t: T) => number): Promise<T> {
  const passes: T[] = [];
  for (let i = 0; i < 3; i++) passes.push(await pass());
  return passes.reduce((a, b) => (cost(b) < cost(a) ? b : a));
}

export async function coldFloor(assets: MirrorAsset[], mirrorDir: string, url: string, shaMBps: number, workDir: string): Promise<ColdFloor> {
  const inMiB = assets.reduce((n, a) => n + a.size, 0) / MiB;
  const receive = await least(() => receiveCost(assets.map((a) => `${url}/${a.path}`), inMiB), (r) => r);
  const inflated = await least(() => inflateCost(assets.filter(isArchive).map((a) => join(mirrorDir, a.path))), (r) => r.perMiB);
  const write = await least(() => writeCost(workDir), (r) => r);
  const hash = 1000 / shaMBps;
  const outMiB = inflated.outMiB + assets.filter((a) => !isArchive(a)).reduce((n, a) => n + a.size, 0) / MiB;
  const cores = availableParallelism();
  const cpu = (receive + hash) * inMiB + inflated.perMiB * inflated.outMiB + write * outMiB;
  return { receive, hash, inflate: inflated.perMiB, write, inMiB, outMiB, cores, seconds: cpu / 1000 / cores };
}

/** `receive 1.7 · sha256 0.6 · inflate 4.5 · write 0.3 ms of CPU per MiB; 273 MiB in, 353 MiB out` */
export const floorLine = (f: ColdFloor) =>
  `receive ${f.receive.toFixed(1)} · sha256 ${f.hash.toFixed(1)} · inflate ${f.inflate.toFixed(1)} (per MiB out) · write ${f.write.toFixed(1)} ms of CPU per MiB; ${f.inMiB.toFixed(0)} MiB in, ${f.outMiB.toFixed(0)} MiB out`;
