// One timed command for the benchmarks: earlier writes flushed first (so one measurement does
// not pay for another's), wall time in seconds, output kept, a failure thrown with its stderr.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TIMINGS_ENV } from "../src/engine/timings";

const ROOT = join(import.meta.dir, "..");

export async function sh(cmd: string[], cwd = ROOT): Promise<{ seconds: number; stdout: string; stderr: string }> {
  Bun.spawnSync(["sync"]);
  const started = performance.now();
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${stderr}`);
  return { seconds, stdout, stderr };
}

/** Build this host's executable into `outdir`; its path. */
export async function buildBinary(outdir: string): Promise<string> {
  const target = process.arch === "arm64" ? "linux-arm64" : "linux-x64";
  await sh([process.execPath, "scripts/build.ts", "--target", target, "--outdir", outdir]);
  return join(outdir, `kube-rootfs-${target}`);
}

/** The middle value (of an odd count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One line of a bench table: what, the figure, its target. */
export const row = (name: string, value: string, target = "") => console.log(`${name.padEnd(58)} ${value.padStart(12)}  ${target}`);

/** One run's wall and CPU time (user + sys) and the stage marks it wrote (KUBE_ROOTFS_TIMINGS). */
export interface TimedRun {
  ms: number;
  cpuMs: number;
  marks: Record<string, number>;
  /** the wall time of the run that wrote the marks, when it is not the one timed */
  markedMs?: number;
}

/** The environment of a run asked for its stage marks. */
const timedEnv = () => ({ ...process.env, [TIMINGS_ENV]: "1" });

/** The stage marks a run wrote on stderr (KUBE_ROOTFS_TIMINGS); undefined when it wrote none. */
export function marksOf(stderr: string): Record<string, number> | undefined {
  const line = stderr.split("\n").find((l) => l.startsWith('{"timings":'));
  return line ? (JSON.parse(line) as { timings: Record<string, number> }).timings : undefined;
}

/** A finished process's CPU time (user + sys) in ms, from its resource usage. */
const cpuMsOf = (usage: { cpuTime: { user: number | bigint; system: number | bigint } } | undefined) =>
  usage ? Number(usage.cpuTime.user) / 1000 + Number(usage.cpuTime.system) / 1000 : NaN;

/** One run of `cmd`: its wall and CPU time and its stderr; a failure thrown with it. */
function runOnce(cmd: string[], env: Record<string, string | undefined>): { ms: number; cpuMs: number; stderr: string } {
  const started = performance.now();
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "ignore", stderr: "pipe", env });
  const ms = performance.now() - started;
  const stderr = r.stderr.toString();
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}: ${stderr}`);
  return { ms, cpuMs: cpuMsOf(r.resourceUsage), stderr };
}

/**
 * `runs` runs of each command, taken in turns (so a drift in the machine's speed falls on all of
 * them alike), each run made twice: as a person runs it (its wall and CPU time), then asked for
 * its stage marks, whose report costs a short run a few ms (that run's own wall gives `end`).
 * A first, unrecorded round warms the page cache. One list of runs per command.
 */
export function timedRuns(cmds: string[][], runs: number): TimedRun[][] {
  const { [TIMINGS_ENV]: _asked, ...plainEnv } = process.env;
  const out: TimedRun[][] = cmds.map(() => []);
  for (let i = 0; i <= runs; i++) {
    cmds.forEach((cmd, k) => {
      const plain = runOnce(cmd, plainEnv);
      const marked = runOnce(cmd, timedEnv());
      if (i > 0) out[k]!.push({ ms: plain.ms, cpuMs: plain.cpuMs, marks: marksOf(marked.stderr) ?? {}, markedMs: marked.ms });
    });
  }
  return out;
}

/** Where a command's runs went: medians of wall, CPU and each stage. */
export interface Breakdown {
  ms: number;
  cpuMs: number;
  stages: Array<[string, number]>;
}

/**
 * Medians of the runs: wall, CPU, and each stage's own length (its mark minus the one before;
 * `start` from the process's start; `end` from the last mark to that run's process gone).
 */
export function breakdown(runs: TimedRun[]): Breakdown {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.marks))), "end"];
  const length = (r: TimedRun, name: string) => {
    const at = Object.entries(r.marks);
    const i = at.findIndex(([n]) => n === name);
    if (name === "end") return (r.markedMs ?? r.ms) - (at.at(-1)?.[1] ?? 0);
    return i < 0 ? 0 : at[i]![1] - (i ? at[i - 1]![1] : 0);
  };
  return {
    ms: median(runs.map((r) => r.ms)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    stages: names.map((n) => [n, median(runs.map((r) => length(r, n)))]),
  };
}

/** A breakdown as one line: `start 15.2 · loaded 1.1 · command 6.0 · … ms`. */
export const stagesLine = (b: Breakdown) => b.stages.map(([n, ms]) => `${n} ${ms.toFixed(1)}`).join(" · ") + " ms";

/** What one run of the cold install spent: wall, CPU (user + sys), peak RSS, its stage marks, and CPU by thread. */
export interface ColdRun extends TimedRun {
  rssBytes: number;
  /** CPU milliseconds by what the threads do (see THREAD_KINDS) */
  threads: Record<string, number>;
}

/** A thread's name (its comm, as Bun names it) → what it does, for the cold run's breakdown. */
const THREAD_KINDS: Array<[RegExp, string]> = [
  [/^Worker$/, "byte workers"],
  [/^HTTP Client$/, "HTTP client"],
  [/^Bun Pool/, "file I/O pool"],
  [/^(JITWorker|HeapHelper|JSCWarmUp|mi-scavenger)$/, "JIT, GC, allocator"],
];

/** The CPU milliseconds (user + sys) of each thread of a live process, by kind; the process's own first thread is "main thread". */
function threadCPU(pid: number): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime, in clock ticks (USER_HZ, 100 a second on Linux)
      const ms = (Number(fields[11]) + Number(fields[12])) * 10;
      const kind = tid === String(pid) ? "main thread" : (THREAD_KINDS.find(([re]) => re.test(comm))?.[1] ?? "other");
      out.set(tid, [kind, ms]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** The first child of a process (the command GNU time runs), or 0 before it has one. */
function childOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0]) || 0;
  } catch {
    return 0;
  }
}

/**
 * One run of `cmd` (a cold install) under GNU time for its peak RSS (NaN without it), with its
 * stage marks, and its threads' CPU sampled every 20 ms until it exits (so a thread's last 20 ms
 * may be missed).
 */
export async function coldRun(cmd: string[]): Promise<ColdRun> {
  const time = existsSync("/usr/bin/time") ? ["/usr/bin/time", "-f", "maxrss=%M"] : [];
  Bun.spawnSync(["sync"]);
  const started = performance.now();
  const proc = Bun.spawn([...time, ...cmd], { cwd: ROOT, stdout: "ignore", stderr: "pipe", env: timedEnv() });
  const seen = new Map<string, [string, number]>();
  const sample = setInterval(() => {
    const pid = time.length ? childOf(proc.pid) : proc.pid;
    if (pid) for (const [tid, v] of threadCPU(pid)) seen.set(tid, v);
  }, 20);
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  clearInterval(sample);
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${stderr}`);
  const threads: Record<string, number> = {};
  for (const [kind, cpu] of seen.values()) threads[kind] = (threads[kind] ?? 0) + cpu;
  return {
    ms,
    cpuMs: cpuMsOf(proc.resourceUsage()),
    marks: marksOf(stderr) ?? {},
    rssBytes: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? NaN) * 1024,
    threads,
  };
}

/** The median CPU of each thread kind over the runs, largest first: `byte workers 1300 · main thread 570 · … ms`. */
export function threadsLine(runs: ColdRun[]): string {
  const kinds = [...new Set(runs.flatMap((r) => Object.keys(r.threads)))];
  const medians = kinds.map((k) => [k, median(runs.map((r) => r.threads[k] ?? 0))] as const).sort((a, b) => b[1] - a[1]);
  return medians.map(([k, ms]) => `${k} ${ms.toFixed(0)}`).join(" · ") + " ms";
}
