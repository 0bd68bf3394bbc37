// fetch: fill a bundle (a cache dir in upstream layout) with every artifact of the goal for
// one or more arches, optionally the base rootfs snapshot, and describe it in a lock.
import { statSync } from "node:fs";
import { relative } from "node:path";
import { ArtifactPipeline, settleAll } from "../artifacts/pipeline";
import { planAll } from "../artifacts/plan";
import type { Resolved } from "../config/resolve";
import { parallel, serial, type Task } from "../engine/task";
import { ensureSnapshot } from "../rootfs/bootstrap";
import { readSidecar, snapshotKey } from "../rootfs/bootstrap/snapshot";
import { emptyLock, type Lock } from "./lock";

function artifactsTask(goal: Resolved, lock: Lock): Task {
  return {
    name: `artifacts-${goal.arch}`,
    async run(ctx) {
      if (ctx.dryRun) {
        for (const p of planAll(goal)) ctx.log.info("would fetch", { artifact: p.entry.name, url: p.url, checksum: p.checksumURL, path: p.cacheAsset });
        return;
      }
      const pipeline = new ArtifactPipeline(goal);
      await settleAll(planAll(goal), async (plan) => {
        const { sha256, size } = await pipeline.ensureCached(plan, ctx);
        (lock.artifacts[plan.entry.name] ??= {})[goal.arch] = { version: plan.version, path: plan.cacheAsset, size, sha256 };
        ctx.log.info("in bundle", { artifact: plan.entry.name, path: plan.cacheAsset, sha256 });
      });
    },
  };
}

function rootfsTask(goal: Resolved, lock: Lock): Task {
  return {
    name: `rootfs-${goal.arch}`,
    async run(ctx) {
      const snapshot = await ensureSnapshot(goal, ctx);
      if (!snapshot) return "completed";
      const { file, plan } = snapshot;
      lock.rootfs[goal.arch] = { key: snapshotKey(plan), suite: plan.suite, path: relative(goal.cacheDir, file), size: statSync(file).size, sha256: readSidecar(file)! };
      ctx.log.info("rootfs in bundle", { path: file });
      return "completed";
    },
  };
}

/** One goal per arch, all with cacheDir = the bundle. Fills `lock` as it goes. */
export function fetchTask(goals: Resolved[], withRootfs: boolean, lock: Lock = emptyLock()): Task {
  return serial(
    "fetch",
    goals.map((g) => parallel(`fetch-${g.arch}`, [artifactsTask(g, lock), ...(withRootfs ? [rootfsTask(g, lock)] : [])])),
  );
}
