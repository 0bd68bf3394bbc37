// The run's modules (the goal's schema, the plan and every task) load when it runs: --help
// needs only the options.
import type { Resolved } from "../config/resolve";
import { EXIT, Interrupted, exitCodeOf } from "../errors";
import { formatDuration, holding, type Logger } from "../engine/log";
import { mark } from "../engine/timings";
import { leafTasks, type Task } from "../engine/task";
import { commonArgs, goalArgs } from "./args";
import { defineCommand } from "./command";

const args = {
  ...goalArgs,
  ...commonArgs,
  "dry-run": { type: "boolean", description: "print what each task would do, every path and URL, then what would stop a real run (exit 1); change nothing" },
} as const;

type RunOutcome = "changed" | "up-to-date" | "failed";

/**
 * The last word of a run: one event with the outcome and exit code in a log; for a person one
 * sentence (a failure is left to the error report, so it is read once).
 */
function finished(logger: Logger, goal: Resolved, task: Task, outcome: RunOutcome, exitCode: number, dryRun: boolean, warnings: number) {
  const ms = performance.now(); // since the process started: what the person waited
  if (logger.format === "json") {
    logger.event({ level: outcome === "failed" ? "error" : "info", msg: "done", duration: ms, fields: { machine: goal.machine, outcome, exitCode, ...(dryRun ? { dryRun } : {}) } });
    return;
  }
  const checked = leafTasks(task).map((t) => t.name).join(", ");
  const hint = warnings ? `; ${warnings} host warning${warnings > 1 ? "s" : ""} (kube-rootfs doctor)` : "";
  if (outcome === "up-to-date") logger.event({ level: "info", msg: `${goal.machine} is up to date: ${checked} checked in ${Math.round(ms)} ms${hint}` });
  else if (outcome === "changed") logger.event({ level: "info", msg: dryRun ? `${goal.machine}: the changes above would be made (dry run, nothing written)` : `${goal.machine} provisioned in ${formatDuration(ms)}` });
}

export const provisionCommand = defineCommand({
  meta: {
    name: "provision",
    description: "Prepare the machine: rootfs, nspawn settings, Kubernetes, containerd, runc, CNI and OS files",
  },
  args,
  async run({ args: parsed, rawArgs }) {
    const [{ setup }, { provisionMachine, provisionPlan }, { READINESS }, { describeSuite }, { interruptible }] = await Promise.all([
      import("./goal"),
      import("../provision"),
      import("../readiness"),
      import("../config/resolve"),
      import("../engine/interrupt"),
    ]);
    mark("modules");
    const { goal, logger } = await setup(parsed, rawArgs, args);
    const dryRun = Boolean(parsed["dry-run"]);
    const plan = provisionPlan(goal);
    mark("plan");
    // A person re-running a machine that is up to date reads one line: the host's warnings
    // (its cgroups, say) are shown when the run changes something or fails, else counted.
    const quiet = holding(logger, (e) => e.task === READINESS && e.level === "warn" && logger.format === "pretty" && !dryRun);
    const run = interruptible(quiet.logger);
    try {
      // A log names the run it belongs to; a person sees the plan's header only for a dry run.
      if (dryRun || logger.format === "json") {
        run.logger.event({
          level: "info",
          msg: dryRun ? "plan" : "provision",
          fields: { machine: goal.machine, machineDir: goal.machineDir, arch: goal.arch, kubernetes: goal.versions.kubernetes, suite: describeSuite(goal.bootstrap), tool: goal.bootstrap.tool },
        });
      }
      // A dry run writes nothing, so it takes no lock and may run beside a real one.
      const outcome = await provisionMachine(goal, plan, { signal: run.signal, logger: run.logger, dryRun });
      if (outcome === "completed") quiet.release();
      finished(run.logger, goal, plan.work, outcome === "completed" ? "changed" : "up-to-date", EXIT.ok, dryRun, quiet.held.length);
      return EXIT.ok;
    } catch (err) {
      const stopped = run.interrupted();
      const during = stopped?.running ?? [];
      const error = stopped ? new Interrupted(`interrupted by ${stopped.name}${during.length ? ` during ${during.join(", ")}` : ""}; temp files removed, run again to finish`, stopped.code) : err;
      quiet.release();
      finished(run.logger, goal, plan.work, "failed", exitCodeOf(error), dryRun, 0);
      throw error;
    } finally {
      run.dispose();
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
