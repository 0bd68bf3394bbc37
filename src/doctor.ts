// doctor: the readiness checks a provision with this goal would run, plus host-wide checks
// provision itself does not need (systemd-nspawn to boot the machine, kernel modules, and
// whether the bootstrap mirror answers).
import type { Resolved } from "./config/resolve";
import { provisionPlan } from "./provision";
import { bad, ok, type Check } from "./readiness/check";
import { readinessChecks } from "./readiness";
import { gpuCheck, gpuNeeded } from "./readiness/gpu";

export const nspawnCheck: Check = {
  name: "systemd-nspawn",
  run(h) {
    const missing = ["systemd-nspawn", "machinectl"].filter((c) => !h.which(c));
    return missing.length ? bad("fail", `${missing.join(" and ")} not found`, "apt-get install systemd-container") : ok("systemd-nspawn and machinectl present");
  },
};

export const modulesCheck: Check = {
  name: "kernel modules",
  run(h) {
    const dir = `/lib/modules/${h.kernel()}`;
    if (h.exists(dir)) return ok(`${dir} present (bound read-only into the machine)`);
    return bad(
      "warn",
      `${dir} missing: the machine gets no modules, so overlay and br_netfilter must be built in or loaded on the host`,
      `install the modules of the running kernel (e.g. apt-get install linux-modules-${h.kernel()}) or boot a kernel that has them`,
    );
  },
};

export function mirrorCheck(goal: Resolved, mirror: string): Check {
  return {
    name: "bootstrap mirror",
    async run(h) {
      if (goal.offline) return ok("offline: not contacted");
      const url = `${mirror}/dists/${goal.bootstrap.suite}/Release`;
      const why = await h.reach(url);
      return why ? bad("fail", `${url}: ${why}`, "check the network, or set --bootstrap-mirror") : ok(url);
    },
  };
}

/** provision's readiness list for this goal, then the host-wide checks. */
export function doctorChecks(goal: Resolved): Check[] {
  const needs = provisionPlan(goal).needs();
  const workspace = needs.workspace?.();
  const bootstrap = workspace?.kind === "bootstrap" ? workspace.plan : undefined;
  return [
    ...readinessChecks(goal, needs),
    nspawnCheck,
    modulesCheck,
    ...(bootstrap ? [mirrorCheck(goal, bootstrap.mirror)] : []),
    // Readiness has said it when the run passes GPUs in; otherwise doctor says none were found.
    ...(goal.gpu.mode === "auto" && !gpuNeeded(goal) ? [gpuCheck(goal)] : []),
  ];
}
