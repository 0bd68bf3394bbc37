// ensure-workspace: a machine dir with a rootfs in it, and the two host files that make
// systemd-nspawn run it (settings and service drop-in). What to do about the rootfs was
// decided once (decision.ts); readiness has checked what that needs.
import { mkdirSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import { RunError } from "../errors";
import type { Task, TaskContext } from "../engine/task";
import { FILE_MODE, ioError } from "../fs/atomic";
import type { FileSpec } from "../fs/spec";
import { hostRel, Target } from "../fs/target";
import { gpuBinds } from "../gpu/binds";
import { bootstrapRootfs } from "./bootstrap";
import type { WorkspaceDecision } from "./decision";
import { readImageRecord } from "./bootstrap/image";
import { renderNspawn } from "./templates/nspawn";
import { renderServiceOverride } from "./templates/override";
import { recordMachine } from "../hostprep/manifest";

export const ENSURE_WORKSPACE = "ensure-workspace";

/** The host files ensure-workspace writes, by absolute path. */
export function nspawnFiles(goal: Resolved): FileSpec[] {
  return [
    { name: "nspawn", path: goal.nspawnConfigFile, content: renderNspawn({ ...goal, gpuBinds: gpuBinds(goal.gpu) }), mode: FILE_MODE },
    { name: "override", path: goal.serviceOverrideFile, content: renderServiceOverride({ ...goal, gpuDevices: goal.gpu.on?.devices ?? [] }), mode: FILE_MODE },
  ];
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

async function ensureRootfs(goal: Resolved, decision: WorkspaceDecision, ctx: TaskContext): Promise<boolean> {
  if (decision.kind === "unreadable") {
    // Readiness stops a real run on this first; a dry run goes on planning the rest.
    if (!ctx.dryRun) throw new RunError(decision.problem);
    ctx.log.warn("cannot tell what the machine dir holds", { path: goal.machineDir, error: decision.problem });
    return false;
  }
  if (decision.kind === "present") {
    ctx.log.debug("rootfs present", { path: goal.machineDir });
    warnOtherImage(goal, ctx);
    return false;
  }
  if (decision.kind === "create") {
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
  await bootstrapRootfs(goal, decision, ctx);
  return true;
}

export function ensureWorkspaceTask(goal: Resolved, decision: () => WorkspaceDecision): Task {
  return {
    name: ENSURE_WORKSPACE,
    async run(ctx) {
      // Recorded first: whatever this run leaves of the machine, reset finds it.
      const { machine: name, machineDir, nspawnConfigFile, serviceOverrideFile } = goal;
      if (!ctx.dryRun) await recordMachine(goal.host.root, { name, machineDir, nspawnConfigFile, serviceOverrideFile });
      const created = await ensureRootfs(goal, decision(), ctx);
      const host = new Target("/", ctx);
      const written = await Promise.all(nspawnFiles(goal).map((f) => host.writeFile(hostRel(f.path), f.content, f.mode)));
      // Said when the settings are written, not on every run that finds them in place.
      if (!goal.hostModules && written.includes("written")) ctx.log.info("host has no /lib/modules: the machine gets no kernel modules bind");
      const gpu = gpuBinds(goal.gpu);
      if (gpu && written.includes("written")) {
        ctx.log.info(ctx.dryRun ? "would pass NVIDIA GPUs into the machine" : "NVIDIA GPUs passed into the machine", {
          driver: goal.gpu.on?.moduleVersion, devices: gpu.devices.map((d) => `${d.path} ${d.major}:${d.minor}`), files: gpu.files.length,
        });
      }
      return created || written.includes("written") ? "completed" : "skipped";
    },
  };
}
