// ensure-workspace: a machine dir with a rootfs in it, and the two host files that make
// systemd-nspawn run it (settings and service drop-in).
import { mkdirSync, readdirSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import type { Task, TaskContext } from "../engine/task";
import { ioError } from "../fs/atomic";
import { hostRel, Target } from "../fs/target";
import { requirePreflight } from "../doctor";
import { bootstrapRootfs, rootfsSource } from "./bootstrap";
import { readImageRecord } from "./bootstrap/image";
import { renderNspawn } from "./templates/nspawn";
import { renderServiceOverride } from "./templates/override";

/** The host files ensure-workspace writes, by absolute path. */
export function nspawnFiles(goal: Resolved): Array<[path: string, content: string]> {
  return [
    [goal.nspawnConfigFile, renderNspawn(goal)],
    [goal.serviceOverrideFile, renderServiceOverride(goal)],
  ];
}

/** Missing, or a directory with nothing in it. */
export function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw ioError(`read machine dir ${dir}`, err);
  }
}

/** A filled machine dir is never replaced; say so when it was made from another image than the one named now. */
function warnOtherImage(goal: Resolved, ctx: TaskContext) {
  const made = goal.bootstrap.method === "image" ? readImageRecord(goal.machineDir) : undefined;
  if (!made || made.image === goal.bootstrap.image) return;
  ctx.log.warn("machine dir holds another image; left as it is", {
    path: goal.machineDir, holds: made.image, digest: made.digest, wanted: goal.bootstrap.image,
    fix: "provision another machine (or empty this machine dir) to use the new image",
  });
}

async function ensureRootfs(goal: Resolved, ctx: TaskContext): Promise<boolean> {
  if (!isEmptyDir(goal.machineDir)) {
    ctx.log.debug("rootfs present", { path: goal.machineDir });
    warnOtherImage(goal, ctx);
    return false;
  }
  if (goal.bootstrap.method === "none") {
    if (ctx.dryRun) ctx.log.info("would create", { path: goal.machineDir });
    else {
      try {
        mkdirSync(goal.machineDir, { recursive: true, mode: 0o755 });
      } catch (err) {
        throw ioError(`create machine dir ${goal.machineDir}`, err);
      }
      ctx.log.info("created", { path: goal.machineDir });
    }
    return true;
  }
  const source = rootfsSource(goal);
  // Stop on a missing tool, keyring or disk space before anything is touched; a dry run only
  // reports what a real run would stop on.
  try {
    await requirePreflight(goal, source.kind === "bootstrap");
  } catch (err) {
    if (!ctx.dryRun) throw err;
    ctx.log.warn("a real run would stop here", { error: (err as Error).message });
  }
  await bootstrapRootfs(goal, source, ctx);
  return true;
}

export function ensureWorkspaceTask(goal: Resolved): Task {
  return {
    name: "ensure-workspace",
    async run(ctx) {
      const created = await ensureRootfs(goal, ctx);
      if (!goal.hostModules) ctx.log.info("host has no /lib/modules: the machine gets no kernel modules bind");
      const host = new Target("/", ctx);
      const written = await Promise.all(nspawnFiles(goal).map(([path, content]) => host.writeFile(hostRel(path), content)));
      return created || written.includes("written") ? "completed" : "skipped";
    },
  };
}
