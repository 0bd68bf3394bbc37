import { defineCommand } from "./command";
import { doctorChecks } from "../doctor";
import { EXIT } from "../errors";
import type { Level } from "../engine/log";
import { writeStdout } from "../engine/stdio";
import { formatReport, runChecks, type Status } from "../readiness/check";
import { realHost } from "../host/probe";
import { commonArgs, goalArgs } from "./args";
import { setup } from "./goal";

const args = { ...goalArgs, ...commonArgs } as const;

const LEVEL: Record<Status, Level> = { ok: "info", warn: "warn", fail: "error" };

export const doctorCommand = defineCommand({
  meta: { name: "doctor", description: "Check the host for what provisioning and booting the machine need; exit 1 when a check fails" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal, logger } = await setup(parsed, rawArgs, args);
    const reports = await runChecks(doctorChecks(goal), realHost);
    for (const r of reports) {
      // A person gets the aligned lines; a log (JSON) gets one event per check.
      if (logger.format === "pretty") writeStdout(formatReport(r) + "\n");
      else logger.event({ level: LEVEL[r.status], task: "doctor", msg: `${r.name}: ${r.message}`, fields: { check: r.name, status: r.status, ...(r.fix ? { fix: r.fix } : {}) } });
    }
    return reports.some((r) => r.status === "fail") ? EXIT.failed : EXIT.ok;
  },
});

/** What the host checks depend on (for --help). */
export const doctorUses = [
  "machine", "machineDir", "arch", "hostKernel", "hostModules", "gpu", "host", "kubelet", "versions", "mirror", "downloads", "bootstrap", "cacheDir", "offline", "lock", "logFormat", "skipPhases",
];

export const doctorExamples = [
  "kube-rootfs doctor",
  "kube-rootfs doctor --bootstrap-suite noble --bootstrap-tool mmdebstrap",
  "kube-rootfs doctor --offline --cache-dir /srv/bundle --log-format json",
];
