import { defineCommand } from "citty";
import { Interrupted } from "../errors";
import { interruptible } from "../engine/interrupt";
import { lockMachine } from "../engine/lock";
import { runTask } from "../engine/task";
import { provisionTask } from "../provision";
import { commonArgs, goalArgs } from "./args";
import { setup } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  "dry-run": { type: "boolean", description: "print what each task would do, every path and URL; change nothing" },
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
    const task = provisionTask(goal);
    // A dry run writes nothing, so it needs no lock and may run beside a real one.
    const lock = dryRun ? undefined : lockMachine(goal.machine);
    const run = interruptible(logger);
    try {
      run.logger.event({
        level: "info",
        msg: dryRun ? "plan" : "provision",
        fields: { machine: goal.machine, machineDir: goal.machineDir, arch: goal.arch, kubernetes: goal.versions.kubernetes },
      });
      await runTask(task, { signal: run.signal, logger: run.logger, dryRun });
      return 0;
    } catch (err) {
      const stopped = run.interrupted();
      if (!stopped) throw err;
      const during = stopped.running.filter((t) => t !== "provision");
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
  "kube-rootfs provision --kubelet-bootstrap-kubeconfig /root/bootstrap-kubelet.conf --runtime-registry-mirrors docker.io=https://mirror.internal",
];
