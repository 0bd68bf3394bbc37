// disable-resolved: mask systemd-resolved inside the machine and give it a static resolv.conf
// copied from the host (the machine shares the host's network).
import { readFileSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import { RunError } from "../errors";
import type { Task } from "../engine/task";
import { FILE_MODE } from "../fs/atomic";
import type { FileSpec, LinkSpec } from "../fs/spec";
import { Target } from "../fs/target";
import { renderResolvConf } from "./templates/os";

export const RESOLVED_MASK: LinkSpec = { name: "resolved-mask", path: "etc/systemd/system/systemd-resolved.service", target: "/dev/null" };

/** A copy of the host's resolver file, read now: the one file of this task known only at run time. */
export const DISABLE_RESOLVED = "disable-resolved";

export function resolvConfFile(goal: Resolved): FileSpec {
  let host: string;
  try {
    host = readFileSync(goal.hostResolvConf, "utf8");
  } catch (err) {
    throw new RunError(`read host resolvers ${goal.hostResolvConf}: ${(err as NodeJS.ErrnoException).code ?? err} (set hostResolvConf)`);
  }
  return { name: "resolv-conf", path: "etc/resolv.conf", content: renderResolvConf(host, goal.hostResolvConf), mode: FILE_MODE };
}

export function disableResolvedTask(goal: Resolved): Task {
  return {
    name: DISABLE_RESOLVED,
    async run(ctx) {
      const root = new Target(goal.machineDir, ctx);
      const resolv = resolvConfFile(goal);
      const results = await Promise.all([root.symlink(RESOLVED_MASK.path, RESOLVED_MASK.target), root.writeFile(resolv.path, resolv.content, resolv.mode)]);
      return results.includes("written") ? "completed" : "skipped";
    },
  };
}
