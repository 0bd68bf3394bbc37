// disable-resolved: mask systemd-resolved inside the machine and give it a static resolv.conf
// copied from the host (the machine shares the host's network).
import { readFileSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import { RunError } from "../errors";
import type { Task } from "../engine/task";
import { Target } from "../fs/target";
import { renderResolvConf } from "./templates/os";

export const RESOLVED_MASK = "etc/systemd/system/systemd-resolved.service";

export function resolvConfContent(goal: Resolved): string {
  try {
    return renderResolvConf(readFileSync(goal.hostResolvConf, "utf8"), goal.hostResolvConf);
  } catch (err) {
    throw new RunError(`read host resolvers ${goal.hostResolvConf}: ${(err as NodeJS.ErrnoException).code ?? err} (set hostResolvConf)`);
  }
}

export function disableResolvedTask(goal: Resolved): Task {
  return {
    name: "disable-resolved",
    async run(ctx) {
      const root = new Target(goal.machineDir, ctx);
      const results = await Promise.all([root.symlink(RESOLVED_MASK, "/dev/null"), root.writeFile("etc/resolv.conf", resolvConfContent(goal))]);
      return results.includes("written") ? "completed" : "skipped";
    },
  };
}
