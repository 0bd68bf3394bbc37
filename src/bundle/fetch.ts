// fetch: fill a bundle (a cache dir in upstream layout) with every artifact of the goal for
// one or more arches, the images to pre-load, optionally the base rootfs snapshot, and describe
// it in a lock.
import { rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ArtifactPipeline, settleAll } from "../artifacts/pipeline";
import { planAll } from "../artifacts/plan";
import { archOf } from "../config/host";
import type { Resolved } from "../config/resolve";
import { parseArchList, type Arch } from "../config/arch";
import { parallel, serial, type Task, type TaskContext } from "../engine/task";
import { RunError } from "../errors";
import { readinessChecks, readinessTask, runWhenReady } from "../readiness";
import { bootstrapRootfs, rootfsSource, type RootfsSource } from "../rootfs/bootstrap";
import { findSnapshot, readSidecar, snapshotKey } from "../rootfs/bootstrap/snapshot";
import { removeTree } from "../rootfs/bootstrap/staging";
import { decidedOnce } from "../rootfs/decision";
import { ensureImage, holdsPreload, imagesLayout, preloadImages } from "../oci/preload";
import { emptyLock, mergeIntoLockFile, type Lock } from "./lock";

/** fetch's architectures: --arch, else KUBE_ROOTFS_ARCH, else (undefined) the host's. */
export function parseArches(flag: string | undefined, env: string | undefined): Arch[] | undefined {
  if (flag !== undefined) return parseArchList(flag, "--arch");
  return env ? parseArchList(env, "KUBE_ROOTFS_ARCH") : undefined;
}

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

type Snapshot = Extract<RootfsSource, { kind: "snapshot" }>;

/** The bundle's snapshot, bootstrapping a throwaway rootfs inside it only to keep one; none in a dry run. */
async function ensureSnapshot(goal: Resolved, found: RootfsSource, ctx: TaskContext): Promise<Snapshot | undefined> {
  if (found.kind === "snapshot") return found;
  if (found.kind !== "bootstrap") throw new RunError(`--with-rootfs: bootstrap.method ${goal.bootstrap.method} makes no snapshot`);
  if (ctx.dryRun) {
    ctx.log.info("would bootstrap and keep a snapshot", { suite: goal.bootstrap.suite, arch: goal.arch });
    return undefined;
  }
  const scratch = scratchDir(goal);
  try {
    await bootstrapRootfs({ ...goal, machineDir: join(scratch, goal.arch) }, found, ctx);
  } finally {
    removeTree(join(scratch, goal.arch));
    rmSync(scratch, { recursive: true, force: true });
  }
  const file = findSnapshot(goal.cacheDir, found.plan);
  if (!file) throw new RunError(`--with-rootfs: the snapshot of ${goal.bootstrap.suite}/${goal.arch} was not kept (see the log above)`);
  return { kind: "snapshot", file, plan: found.plan };
}

/** Where a throwaway rootfs is bootstrapped, inside the bundle. */
const scratchDir = (goal: Resolved) => join(goal.cacheDir, `.rootfs-build-${process.pid}`);

// debootstrap's second stage runs the target's binaries: only the host's own arch is kept here.
const isHostArch = (goal: Resolved) => goal.arch === archOf(process.arch);

function rootfsTask(goal: Resolved, source: () => RootfsSource, lock: Lock): Task {
  return {
    name: `rootfs-${goal.arch}`,
    async run(ctx) {
      if (!isHostArch(goal)) {
        ctx.log.warn(`rootfs snapshot skipped: bootstrapping another architecture needs binfmt emulation; fetch it on an ${goal.arch} host`, { arch: goal.arch });
        return "skipped";
      }
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
        ...(preloadImages(g).length ? [imagesTask(g, lock)] : []),
        ...(withRootfs ? [rootfsTask(g, sources[i]!, lock)] : []),
      ]),
    ),
  );
  const checks = () => {
    const all = goals.flatMap((g, i) => {
      const rootfs = withRootfs && isHostArch(g);
      const scratch = { ...g, machineDir: join(scratchDir(g), g.arch) };
      return readinessChecks(scratch, { root: rootfs, workspace: rootfs ? sources[i] : undefined, artifacts: planAll(g), images: preloadImages(g), boots: false });
    });
    return all.filter((c, i) => all.findIndex((d) => d.name === c.name) === i); // the host's checks, once
  };
  await runWhenReady(readinessTask(checks), work, ctx);
  if (!ctx.dryRun) {
    await mergeIntoLockFile(lockPath, lock);
    ctx.logger.event({ level: "info", msg: "lock written", fields: { path: lockPath } });
  }
}
