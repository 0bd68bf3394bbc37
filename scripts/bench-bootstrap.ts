// Bootstrap figures: debootstrap and (when installed) mmdebstrap of the host's Debian suite from
// the host's own apt mirror with a warm .deb cache, then snapshot create and restore of the
// debootstrap result. Needs root. Target: restore ≤ 0.25× debootstrap.
// Usage: bun scripts/bench-bootstrap.ts   (or import benchBootstrap from scripts/bench.ts)
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { resolveGoal } from "../src/config/resolve";
import { GoalSchema } from "../src/config/schema";
import { debCacheDir } from "../src/rootfs/bootstrap";
import type { BootstrapTool } from "../src/config/schema";
import { bootstrapPlan, toolArgv } from "../src/rootfs/bootstrap/plan";
import { compressionOf, createSnapshot, restoreSnapshot } from "../src/rootfs/bootstrap/snapshot";
import { runLogged } from "../src/rootfs/bootstrap/spawn";
import { removeTree } from "../src/rootfs/bootstrap/staging";
import { hostDebianMirror } from "../test/helpers/apt";

const signal = new AbortController().signal;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

export async function benchBootstrap(): Promise<Array<{ name: string; seconds: number }>> {
  const { mirror, suite } = hostDebianMirror();
  const dir = mkdtempSync("/var/tmp/kube-rootfs-bench-");
  const cacheDir = join(dir, "cache");
  const log = join(dir, "bench.log");
  const goal = resolveGoal(GoalSchema.parse({ cacheDir, bootstrap: { suite, mirror } }));
  const results: Array<{ name: string; seconds: number }> = [];
  try {
    const tools: BootstrapTool[] = Bun.which("mmdebstrap") ? ["debootstrap", "mmdebstrap"] : ["debootstrap"];
    for (const tool of tools) {
      const plan = bootstrapPlan(goal, tool, existsSync);
      const debs = debCacheDir(cacheDir, plan);
      const run = async (target: string) => {
        mkdirSync(target);
        const code = await runLogged(toolArgv(plan, target, debs), log, signal);
        if (code !== 0) throw new Error(`${tool} exited ${code}; see ${log}`);
      };
      await run(join(dir, `${tool}-warmup`)); // fills the .deb cache: the figure is the bootstrap, not the network
      removeTree(join(dir, `${tool}-warmup`));
      results.push({ name: `${tool} ${suite} (warm .deb cache)`, seconds: await timed(() => run(join(dir, tool))) });
    }
    const file = join(cacheDir, "rootfs", `bench.${compressionOf() === "zstd" ? "tar.zst" : "tar.gz"}`);
    results.push({ name: `snapshot create (${compressionOf()})`, seconds: await timed(() => createSnapshot(join(dir, "debootstrap"), file, log, signal, compressionOf())) });
    mkdirSync(join(dir, "restored"));
    results.push({ name: "snapshot restore", seconds: await timed(() => restoreSnapshot(file, join(dir, "restored"), log, signal)) });
  } finally {
    for (const d of ["debootstrap", "mmdebstrap", "restored"]) removeTree(join(dir, d));
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.main) {
  for (const r of await benchBootstrap()) console.log(`${r.name.padEnd(44)} ${r.seconds.toFixed(1)}s`);
}
