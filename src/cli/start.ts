import { defineCommand } from "./command";
import { taskLog } from "../engine/log";
import { EXIT } from "../errors";
import { startMachine } from "../machine/start";
import { commonArgs, goalArgs, timeoutArg, timeoutMs } from "./args";
import { setup } from "./goal";

const args = { ...goalArgs, ...commonArgs, ...timeoutArg(120) } as const;

export const startCommand = defineCommand({
  meta: { name: "start", description: "Enable and start the machine through the host's systemd; wait until its systemd and containerd are up" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal, logger } = await setup(parsed, rawArgs, args);
    const s = await startMachine(goal, timeoutMs(parsed.timeout, 120), taskLog(logger, "start"));
    const failed = s.failed.length ? ` (failed: ${s.failed.join(", ")})` : "";
    logger.event({
      level: s.system === "running" ? "info" : "warn",
      task: "start",
      msg: `${goal.machine} is up: systemd ${s.system}${failed}, containerd active`,
      fields: { machine: goal.machine, system: s.system, failed: s.failed, containerd: "active", already: s.already, cleared: s.cleared },
    });
    return EXIT.ok;
  },
});

/** The goal-state settings start reads (for --help). */
export const startUses = ["machine", "machineDir", "nspawnConfigFile", "logFormat"];

export const startExamples = ["kube-rootfs start --machine kube1", "kube-rootfs start --machine kube2 --timeout 300 --log-format json"];
