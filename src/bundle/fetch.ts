// fetch: fill a bundle (a cache dir in upstream layout) with every artifact of the goal for
// one or more arches, the images to pre-load, optionally the base rootfs snapshot, and describe
// it in a lock.
import { statSync } from "node:fs";
import { relative } from "node:path";
import { ArtifactPipeline, settleAll } from "../artifacts/pipeline";
import { planAll } from "../artifacts/plan";
import type { Resolved } from "../config/resolve";
import { parallel, serial, type Task, type TaskContext } from "../engine/task";
import { readinessTask, runWhenReady, scratchChecks } from "../readiness";
import { ensureSnapshot, rootfsSource, type RootfsSource } from "../rootfs/bootstrap";
import { readSidecar, snapshotKey } from "../rootfs/bootstrap/snapshot";
import { decidedOnce } from "../rootfs/decision";
import { ensureImage, holdsPreload, imagesLayout, preloadImages } from "../images/preload";
import { emptyLock, mergeIntoLockFile, type Lock } from "./lock";

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

/** Each image to pre-load, for this arch, into the bundle's image layout; pinned in the lock. */
function imagesTask(goal: Resolved, lock: Lock): Task {
  return {
    name: `images-${goal.arch}`,
    async run(ctx) {
      const layout = imagesLayout(goal.cacheDir);
      for (const image of preloadImages(goal)) {
        if (ctx.dryRun) {
          ctx.log.info(holdsPreload(goal, layout, image) ? "image in bundle" : "would pull image", { image, arch: goal.arch, layout: layout.dir });
          continue;
        }
        const { desc } = await ensureImage(goal, image, ctx.signal);
        (lock.images[image] ??= {})[goal.arch] = { digest: desc.digest, size: desc.size };
        ctx.log.info("image in bundle", { image, arch: goal.arch, digest: desc.digest });
      }
    },
  };
}

function rootfsTask(goal: Resolved, source: () => RootfsSource, lock: Lock): Task {
  return {
    name: `rootfs-${goal.arch}`,
    async run(ctx) {
      const snapshot = await ensureSnapshot(goal, source(), ctx);
      if (!snapshot) return "completed";
      const { file, plan } = snapshot;
      lock.rootfs[goal.arch] = { key: snapshotKey(plan), suite: plan.suite, path: relative(goal.cacheDir, file), size: statSync(file).size, sha256: readSidecar(file)! };
      ctx.log.info("rootfs in bundle", { path: file });
      return "completed";
    },
  };
}

/**
 * Fetch into the bundle (every goal's cacheDir) and merge what was fetched into its lock:
 * readiness first (root, the bootstrap tool and keyring for --with-rootfs, space); a dry run
 * shows the whole plan, then every blocker.
 */
export async function fetchBundle(goals: Resolved[], withRootfs: boolean, lockPath: string, ctx: Omit<TaskContext, "log">): Promise<void> {
  const lock = emptyLock();
  const sources = goals.map((g) => decidedOnce(() => rootfsSource(g)));
  const work = serial(
    "fetch",
    goals.map((g, i) =>
      parallel(`fetch-${g.arch}`, [
        artifactsTask(g, lock),
        imagesTask(g, lock),
        ...(withRootfs ? [rootfsTask(g, sources[i]!, lock)] : []),
      ]),
    ),
  );
  const checks = () => scratchChecks(goals, (g, i) => ({ root: withRootfs, workspace: withRootfs ? sources[i] : undefined, artifacts: planAll(g), images: preloadImages(g), boots: false }));
  await runWhenReady(readinessTask(checks), work, ctx);
  if (!ctx.dryRun) {
    await mergeIntoLockFile(lockPath, lock);
    ctx.logger.event({ level: "info", msg: "lock written", fields: { path: lockPath } });
  }
}
