// What readiness and doctor say about the host's kernel settings and swap: per setting, what the
// host has and what the host task will write, or, when the host must not be changed
// (host.sysctls false), each value the node lacks as a blocker with its fix.
import type { Resolved } from "../config/resolve";
import { SYSCTL_FILE, type SettingState } from "../hostprep/settings";
import { hostSettingStates } from "../hostprep/task";
import { kubeletVersion, toleratesSwap } from "../runtime/files";
import { bad, ok, type Check, type CheckResult } from "./check";

const needed = (s: SettingState) => (s.rule === "at-least" ? `at least ${s.value}` : s.value);

/** `echo 'vm.overcommit_memory = 1' >> /etc/sysctl.d/90-kube-rootfs.conf && sysctl --system` */
const setByHand = (s: SettingState) => `echo '${s.key} = ${s.value}' >> ${SYSCTL_FILE} && sysctl --system`;

function settingResult(goal: Resolved, s: SettingState, hostTaskRuns: boolean): CheckResult {
  if (s.current === undefined) return bad("fail", `the running kernel has no ${s.key} (the node needs ${needed(s)})`, "boot a kernel that has it");
  if (!s.change) return ok(`${s.current} (the node needs ${needed(s)})`);
  const lacks = `the host has ${s.current}, the node needs ${needed(s)}`;
  if (!goal.host.sysctls) return bad("fail", `${lacks}, and host.sysctls is false`, `${setByHand(s)}, or let kube-rootfs set it (host.sysctls true)`);
  if (!hostTaskRuns) return bad("warn", `${lacks}, and the host task is skipped: kubelet will exit`, `${setByHand(s)}, or run provision without --skip-phases host`);
  return ok(`${lacks}: will write ${s.target} to ${SYSCTL_FILE} and set it now`);
}

/** One check per kernel setting the node needs, against the running kernel as the checks are made (when readiness runs). */
export const sysctlChecks = (goal: Resolved, hostTaskRuns: boolean): Check[] =>
  hostSettingStates(goal).map((s) => ({ name: `sysctl ${s.key}`, run: () => settingResult(goal, s, hostTaskRuns) }));

/** Active swap: kubelet's failSwapOn makes it exit unless the config tolerates it or swap goes off. */
export function swapCheck(goal: Resolved, hostTaskRuns: boolean): Check {
  return {
    name: "swap",
    run() {
      const { swaps, swap } = goal.host;
      if (!swaps.length) return ok("no active swap");
      const areas = swaps.join(", ");
      if (swap === "off") {
        if (hostTaskRuns) return ok(`active swap (${areas}): host.swap off turns it off now and comments it out of /etc/fstab`);
        return bad("warn", `active swap (${areas}) and host.swap off, but the host task is skipped: kubelet will exit`, "swapoff -a, or run provision without --skip-phases host");
      }
      if (toleratesSwap(goal)) return ok(`active swap (${areas}), kept: kubelet gets failSwapOn false and memorySwap.swapBehavior NoSwap, so pods never use it`);
      const version = kubeletVersion(goal);
      return bad(
        "fail",
        `active swap (${areas}): kubelet ${version} exits on a host with swap, and keeping pods off it (swapBehavior NoSwap) needs Kubernetes 1.30 or later`,
        "turn swap off with --host-swap off (or swapoff -a and comment the swap lines out of /etc/fstab), or use --kubernetes-version 1.30 or later",
      );
    },
  };
}

