// host: what the node needs of the host itself, written and applied before the machine starts.
// The kernel settings go to the host's sysctl.d (for every boot) and into the running kernel
// (only the values that differ, so no reboot is needed); with host.swap off, swap goes off.
// Everything written is recorded in the host manifest for verify and reset.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Resolved } from "../config/resolve";
import type { Task, TaskContext } from "../engine/task";
import { RunError } from "../errors";
import { sha256Hex } from "../fs/hash";
import type { FileSpec } from "../fs/spec";
import { FILE_MODE } from "../fs/atomic";
import { hostRel, Target } from "../fs/target";
import { readSysctl, sysctlPath, writeSysctl } from "../host/sysctl";
import { updateHostManifest, withFile } from "./manifest";
import { hostSettings, renderHostSysctl, settingState, SYSCTL_FILE, type SettingState } from "./settings";
import { turnSwapOff } from "./swap";

export const HOST_TASK = "host";

/** Every setting this goal needs, against the running kernel under host.root. */
export function hostSettingStates(goal: Resolved): SettingState[] {
  const root = goal.host.root;
  const bridge = existsSync(join(root, "proc/sys/net/bridge"));
  return hostSettings(goal, { bridge }).map((s) => settingState(s, readSysctl(root, s.key)));
}

/** The host's sysctl file for these settings (path relative to host.root): what the task writes and render prints. */
export const hostSysctlFile = (states: SettingState[]): FileSpec => ({ name: "host-sysctl", path: SYSCTL_FILE, content: renderHostSysctl(states), mode: FILE_MODE });

/** The sysctl file, recorded then written, and each value the running kernel lacks set in it. */
async function prepareKernel(goal: Resolved, ctx: TaskContext): Promise<boolean> {
  const root = goal.host.root;
  const states = hostSettingStates(goal);
  const absent = states.filter((s) => s.current === undefined);
  if (absent.length) {
    const what = `the running kernel has no ${absent.map((s) => `${s.key} (${sysctlPath(root, s.key)})`).join(", ")}`;
    if (!ctx.dryRun) throw new RunError(`host: ${what}`);
    ctx.log.warn(what);
  }
  const file = hostSysctlFile(states);
  const content = file.content;
  if (!ctx.dryRun) {
    // Recorded before it is written: a run killed in between leaves reset a file to look for.
    await updateHostManifest(root, (m) => ({
      ...withFile(m, { path: SYSCTL_FILE, sha256: sha256Hex(content), what: "kernel settings the node needs (sysctl.d)" }),
      sysctls: states.map((s) => ({ key: s.key, value: s.target, rule: s.rule })),
    }));
  }
  let changed = (await new Target(root, ctx).writeFile(hostRel(file.path), content, file.mode)) === "written";
  for (const s of states.filter((x) => x.change && x.current !== undefined)) {
    const fields = { key: s.key, from: s.current, to: s.target };
    if (ctx.dryRun) ctx.log.info("would set", fields);
    else {
      writeSysctl(root, s.key, s.target);
      ctx.log.info("set", fields);
    }
    changed = true;
  }
  return changed;
}

export function hostTask(goal: Resolved): Task {
  return {
    name: HOST_TASK,
    async run(ctx) {
      const kernel = goal.host.sysctls ? await prepareKernel(goal, ctx) : false;
      const swap = goal.host.swap === "off" ? await turnSwapOff(goal, ctx) : false;
      return kernel || swap ? "completed" : "skipped";
    },
  };
}
