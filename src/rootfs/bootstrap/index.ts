// Bootstrap an empty machine dir into a rootfs: from a given tarball, an OCI image, the cache's
// snapshot of the same bootstrap, or by running debootstrap/mmdebstrap. Every way builds in a staging dir
// and renames it into place when complete; a fresh bootstrap is then kept as a snapshot.
import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { archOf } from "../../host/arch";
import type { Resolved } from "../../config/resolve";
import { errorMessage, RunError } from "../../errors";
import type { TaskContext } from "../../engine/task";
import { mark } from "../../engine/timings";
import { ioError, removeQuietly } from "../../fs/atomic";
import { requireEmulation } from "../binfmt";
import { bootstrapPlan, toolArgv, type BootstrapPlan } from "./plan";
import { compressionOf, createSnapshot, findSnapshot, readSidecar, restoreSnapshot, sidecarOf, snapshotPath, verifySnapshot } from "./snapshot";
import { appendLog, runLogged, tailLines, toolFailed } from "./spawn";
import { removeTree } from "../../fs/tree";
import { freshStagingDir, promote } from "./staging";
import { imageSource, unpackImage, type ImageSource } from "./image";
import { fetchTarball, tarballSource, type TarballSource } from "./tarball";

export type RootfsSource =
  | { kind: "tarball"; tarball: TarballSource }
  | { kind: "image"; image: ImageSource }
  | { kind: "snapshot"; file: string; plan: BootstrapPlan }
  | { kind: "bootstrap"; plan: BootstrapPlan };

/** Where an empty machine dir's rootfs comes from (method none never gets here). */
export function rootfsSource(goal: Resolved, exists: (p: string) => boolean = existsSync): RootfsSource {
  const { method } = goal.bootstrap;
  if (method === "tarball") return { kind: "tarball", tarball: tarballSource(goal.bootstrap) };
  if (method === "image") return { kind: "image", image: imageSource(goal.bootstrap) };
  const plan = bootstrapPlan(goal, goal.bootstrap.tool, exists);
  const file = findSnapshot(goal.cacheDir, plan);
  return file ? { kind: "snapshot", file, plan } : { kind: "bootstrap", plan };
}

export const bootstrapLogFile = (goal: Resolved) => join(goal.cacheDir, "logs", `${goal.machine}-bootstrap.log`);

/** `<cache>/debs/<suite>-<arch>`, private to root: its .debs go into every rootfs made here. */
export function debCacheDir(cacheDir: string, plan: BootstrapPlan): string {
  const dir = join(cacheDir, "debs", `${plan.suite}-${plan.arch}`);
  try {
    for (const d of [join(cacheDir, "debs"), dir]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chmodSync(d, 0o700); // mkdir's mode is filtered by the umask, and an old dir may be wider
    }
  } catch (err) {
    throw ioError(`create .deb cache ${dir}`, err);
  }
  return dir;
}

async function runTool(plan: BootstrapPlan, goal: Resolved, staging: string, logFile: string, ctx: TaskContext): Promise<void> {
  // The tools run the target's maintainer scripts: another arch's only through qemu-user.
  requireEmulation(plan.arch, archOf(process.arch));
  const argv = toolArgv(plan, staging, debCacheDir(goal.cacheDir, plan));
  ctx.log.info("bootstrapping", { tool: plan.tool, suite: plan.suite, arch: plan.arch, mirror: plan.mirror, log: logFile });
  const code = await runLogged(argv, logFile, ctx.signal);
  if (code === 0) return;
  // debootstrap writes the real reason into the target; keep it with ours before the target goes.
  const inner = join(staging, "debootstrap", "debootstrap.log");
  if (existsSync(inner)) appendLog(logFile, `# ${inner}, last lines:\n${tailLines(inner, 40).join("\n")}\n`);
  throw toolFailed(plan.tool, code, logFile);
}

/** A snapshot whose recorded sha256 no longer matches is dropped: it is a cache, not the truth. */
async function usableSnapshot(file: string, ctx: TaskContext): Promise<boolean> {
  try {
    await verifySnapshot(file, readSidecar(file) ?? "");
    return true;
  } catch (err) {
    ctx.log.warn("snapshot unusable, bootstrapping instead", { path: file, error: errorMessage(err) });
    removeQuietly(file);
    removeQuietly(sidecarOf(file));
    return false;
  }
}

type Made = "bootstrapped" | "restored" | "unpacked";

async function fill(source: RootfsSource, goal: Resolved, staging: string, logFile: string, ctx: TaskContext): Promise<Made> {
  if (source.kind === "image") {
    const record = await unpackImage(source.image, goal, staging, ctx);
    ctx.log.info("unpacked image", { image: record.image, digest: record.digest });
    return "unpacked";
  }
  if (source.kind === "tarball") {
    const fetched = await fetchTarball(source.tarball, goal, ctx.signal);
    try {
      await restoreSnapshot(fetched.file, staging, logFile, ctx.signal);
    } finally {
      fetched.cleanup();
    }
    ctx.log.info("restored from tarball", { tarball: source.tarball.tarball });
    return "restored";
  }
  if (source.kind === "snapshot" && (await usableSnapshot(source.file, ctx))) {
    await restoreSnapshot(source.file, staging, logFile, ctx.signal);
    ctx.log.info("restored from snapshot", { snapshot: source.file });
    return "restored";
  }
  await runTool(source.plan, goal, staging, logFile, ctx);
  return "bootstrapped";
}

function describe(source: RootfsSource): Record<string, unknown> {
  if (source.kind === "tarball") return { tarball: source.tarball.tarball, sha256: source.tarball.sha256 };
  if (source.kind === "snapshot") return { snapshot: source.file };
  if (source.kind === "image") return { image: source.image.image };
  // Without a keyring the run stops in readiness; the plan still shows the rest of the command.
  const plan = source.plan.keyring ? source.plan : { ...source.plan, keyring: "<none found>" };
  return { argv: toolArgv(plan, "<staging>", "<cache>/debs").join(" ") };
}

export async function bootstrapRootfs(goal: Resolved, source: RootfsSource, ctx: TaskContext): Promise<void> {
  const logFile = bootstrapLogFile(goal);
  if (ctx.dryRun) {
    ctx.log.info(source.kind === "bootstrap" ? "would bootstrap" : "would restore", { path: goal.machineDir, ...describe(source) });
    return;
  }
  const { dir: staging, removed } = freshStagingDir(goal.machineDir);
  for (const path of removed) ctx.log.info("removed leftover staging dir", { path });
  mark("staging");
  let made: Made;
  try {
    made = await fill(source, goal, staging, logFile, ctx);
    // The fill and the flush timed apart (KUBE_ROOTFS_TIMINGS): a restore's time is mostly one or the other.
    mark(made);
    await promote(staging, goal.machineDir);
    mark("flushed");
  } catch (err) {
    removeTree(staging);
    throw err;
  }
  ctx.log.info(made, { path: goal.machineDir });
  if (made === "bootstrapped" && source.kind === "bootstrap") await keepSnapshot(source.plan, goal, logFile, ctx);
}

/** A failed snapshot costs the next machine a bootstrap, not this run its rootfs: warn only. */
async function keepSnapshot(plan: BootstrapPlan, goal: Resolved, logFile: string, ctx: TaskContext): Promise<void> {
  const file = snapshotPath(goal.cacheDir, plan, compressionOf());
  const started = performance.now();
  try {
    const sha256 = await createSnapshot(goal.machineDir, file, logFile, ctx.signal, compressionOf());
    ctx.log.info("snapshot kept", { path: file, sha256, seconds: Math.round(performance.now() - started) / 1000 });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.log.warn("snapshot not kept", { path: file, error: errorMessage(err) });
  }
}

type Snapshot = Extract<RootfsSource, { kind: "snapshot" }>;

/** Where a throwaway rootfs is bootstrapped only to keep its snapshot: inside the cache. */
const snapshotScratchDir = (goal: Resolved) => join(goal.cacheDir, `.rootfs-build-${process.pid}`);

/** The goal whose machine dir is that throwaway rootfs. */
export const snapshotScratchGoal = (goal: Resolved): Resolved => ({ ...goal, machineDir: join(snapshotScratchDir(goal), goal.arch) });

/**
 * The cache's snapshot of `found` (the goal's rootfs source), bootstrapping a throwaway rootfs
 * in the scratch dir only to keep one; none in a dry run.
 */
export async function ensureSnapshot(goal: Resolved, found: RootfsSource, ctx: TaskContext): Promise<Snapshot | undefined> {
  if (found.kind === "snapshot") return found;
  if (found.kind !== "bootstrap") throw new RunError(`bootstrap.method ${goal.bootstrap.method} makes no snapshot: use bootstrap.method bootstrap`);
  if (ctx.dryRun) {
    ctx.log.info("would bootstrap and keep a snapshot", { suite: found.plan.suite, arch: goal.arch });
    return undefined;
  }
  const scratch = snapshotScratchGoal(goal);
  try {
    await bootstrapRootfs(scratch, found, ctx);
  } finally {
    removeTree(scratch.machineDir);
    rmSync(snapshotScratchDir(goal), { recursive: true, force: true });
  }
  const file = findSnapshot(goal.cacheDir, found.plan);
  if (!file) throw new RunError(`the snapshot of ${found.plan.suite}/${goal.arch} was not kept (see the log above)`);
  return { kind: "snapshot", file, plan: found.plan };
}
