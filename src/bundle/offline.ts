// provision --offline: before anything is touched, everything the run needs must be in the
// cache (a bundle). What is missing is listed all at once, not the first item only.
import { existsSync } from "node:fs";
import { Cache } from "../artifacts/cache";
import { plannedInstalls } from "../artifacts/plan";
import type { Resolved } from "../config/resolve";
import type { Task } from "../engine/task";
import { RunError } from "../errors";
import { rootfsSource } from "../rootfs/bootstrap";
import { imageSource, offlineImageMissing } from "../rootfs/bootstrap/image";
import { localTarball } from "../rootfs/bootstrap/tarball";
import { isEmptyDir } from "../rootfs/workspace";

export function offlineMissing(goal: Resolved): string[] {
  const missing: string[] = [];
  const skipped = (name: string) => goal.skipPhases.includes(name);
  const cache = new Cache(goal.cacheDir);
  for (const plan of plannedInstalls(goal)) {
    const what = `${plan.entry.name} ${plan.version} ${plan.arch}`;
    if (!cache.has(plan.cacheAsset)) missing.push(`${what} (${plan.cacheAsset})`);
    else if (!plan.pinned && !cache.checksum(plan)) missing.push(`${what} checksum (${plan.cacheChecksum})`);
  }
  if (!skipped("workspace") && !skipped("ensure-workspace") && goal.bootstrap.method !== "none" && isEmptyDir(goal.machineDir)) {
    if (goal.bootstrap.method === "tarball") {
      const t = goal.bootstrap.tarball ?? "";
      const file = localTarball(t);
      if (file === undefined) missing.push(`bootstrap.tarball ${t} is a URL (offline needs a path)`);
      else if (t && !existsSync(file)) missing.push(`bootstrap.tarball ${t}`);
    } else if (goal.bootstrap.method === "image") {
      const problem = offlineImageMissing(imageSource(goal.bootstrap), goal.cacheDir);
      if (problem) missing.push(problem);
    } else if (rootfsSource(goal).kind !== "snapshot") {
      missing.push(`rootfs snapshot for ${goal.bootstrap.suite}/${goal.arch} (kube-rootfs fetch --with-rootfs)`);
    }
  }
  return missing;
}

export function offlineCheckTask(goal: Resolved): Task {
  return {
    name: "offline-check",
    async run(ctx) {
      const missing = offlineMissing(goal);
      if (missing.length) throw new RunError(`offline, and the cache ${goal.cacheDir} lacks ${missing.length} item(s): ${missing.join("; ")}`);
      ctx.log.debug("everything is in the cache", { cacheDir: goal.cacheDir });
      return "skipped";
    },
  };
}
