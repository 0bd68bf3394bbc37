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
