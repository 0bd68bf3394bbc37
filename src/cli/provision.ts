import { defineCommand } from "citty";
import { describeSuite } from "../config/resolve";
import { Interrupted } from "../errors";
import { interruptible } from "../engine/interrupt";
import { lockMachine, type MachineLock } from "../engine/lock";
import { provisionPlan } from "../provision";
import { runWhenReady } from "../readiness";
import { commonArgs, goalArgs } from "./args";
import { setup } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  "dry-run": { type: "boolean", description: "print what each task would do, every path and URL, then what would stop a real run (exit 1); change nothing" },
} as const;

export const provisionCommand = defineCommand({
  meta: {
    name: "provision",
    description: "Prepare the machine: rootfs, nspawn settings, Kubernetes, containerd, runc, CNI and OS files",
  },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal, logger } = await setup(parsed, rawArgs, args);
    const dryRun = Boolean(parsed["dry-run"]);
    const plan = provisionPlan(goal);
    const run = interruptible(logger);
    let lock: MachineLock | undefined;
    try {
      run.logger.event({
        level: "info",
        msg: dryRun ? "plan" : "provision",
        fields: { machine: goal.machine, machineDir: goal.machineDir, arch: goal.arch, kubernetes: goal.versions.kubernetes, suite: describeSuite(goal.bootstrap), tool: goal.bootstrap.tool },
      });
      // A dry run writes nothing, so it takes no lock and may run beside a real one.
      await runWhenReady(plan.readiness, plan.work, { signal: run.signal, logger: run.logger, dryRun }, () => (lock = lockMachine(goal.machine)));
      return 0;
    } catch (err) {
      const stopped = run.interrupted();
      if (!stopped) throw err;
      const phases = new Set(["provision", ...plan.phases.map((p) => p.name)]);
      const during = stopped.running.filter((t) => !phases.has(t));
      throw new Interrupted(`interrupted by ${stopped.name}${during.length ? ` during ${during.join(", ")}` : ""}; temp files removed, run again to finish`, stopped.code);
    } finally {
      run.dispose();
      lock?.release();
    }
  },
});

export const provisionExamples = [
  "kube-rootfs provision --kubernetes-version 1.33.1",
  "kube-rootfs provision --machine kube2 --config node.yaml --log-format json >> /var/log/kube-rootfs.log",
  "kube-rootfs provision --bootstrap-method none --machine-dir /srv/rootfs --skip-phases kube,cri,cni",
  "kube-rootfs provision --dry-run",
];
