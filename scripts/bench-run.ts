// One timed command for the benchmarks: earlier writes flushed first (so one measurement does
// not pay for another's), wall time in seconds, output kept, a failure thrown with its stderr.
import { join } from "node:path";

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
}

/** `runs` runs of `cmd` one after another, each asked for its stage marks (a first, unrecorded run warms the page cache). */
export function timedRuns(cmd: string[], runs: number): TimedRun[] {
  const out: TimedRun[] = [];
  for (let i = 0; i <= runs; i++) {
    const started = performance.now();
    const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "ignore", stderr: "pipe", env: { ...process.env, KUBE_ROOTFS_TIMINGS: "1" } });
    const ms = performance.now() - started;
    const stderr = r.stderr.toString();
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}: ${stderr}`);
    if (i === 0) continue;
    const line = stderr.split("\n").find((l) => l.startsWith('{"timings":'));
    const cpu = r.resourceUsage?.cpuTime;
    out.push({ ms, cpuMs: cpu ? Number(cpu.user + cpu.system) / 1000 : NaN, marks: line ? (JSON.parse(line) as { timings: Record<string, number> }).timings : {} });
  }
  return out;
}

/**
 * Medians of the runs: wall, CPU, and each stage's own length (its mark minus the one before;
 * `start` from the process's start; `end` from the last mark to the process gone).
 */
export function breakdown(runs: TimedRun[]): { ms: number; cpuMs: number; stages: Array<[string, number]> } {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.marks))), "end"];
  const length = (r: TimedRun, name: string) => {
    const at = Object.entries(r.marks);
    const i = at.findIndex(([n]) => n === name);
    if (name === "end") return r.ms - (at.at(-1)?.[1] ?? 0);
    return i < 0 ? 0 : at[i]![1] - (i ? at[i - 1]![1] : 0);
  };
  return {
    ms: median(runs.map((r) => r.ms)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    stages: names.map((n) => [n, median(runs.map((r) => length(r, n)))]),
  };
}

/** A breakdown as one line: `start 15.2 · loaded 1.1 · command 6.0 · … ms`. */
export const stagesLine = (b: ReturnType<typeof breakdown>) => b.stages.map(([n, ms]) => `${n} ${ms.toFixed(1)}`).join(" · ") + " ms";
