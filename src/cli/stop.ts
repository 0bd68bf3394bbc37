import { defineCommand } from "./command";
import { taskLog } from "../engine/log";
import { EXIT } from "../errors";
import { poweroffTimeoutMs, STOP_MARGIN_S, stopMachine } from "../machine/stop";
import { commonArgs, goalArgs, timeoutMs } from "./args";
import { setup } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  timeout: { type: "string", description: `seconds the poweroff may take before the machine is killed (default kubelet.shutdownGracePeriod + ${STOP_MARGIN_S})`, valueHint: "seconds" },
} as const;

export const stopCommand = defineCommand({
  meta: {
    name: "stop",
    description: "Power the machine off through its own systemd (kubelet stops its pods within its shutdown grace; killed after --timeout) and disable it, so it stays down across host reboots",
  },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal, logger } = await setup(parsed, rawArgs, args);
    const limit = parsed.timeout === undefined ? poweroffTimeoutMs(goal) : timeoutMs(parsed.timeout, 0);
    const how = await stopMachine(goal, limit, taskLog(logger, "stop"));
    logger.event({ level: "info", task: "stop", msg: `${goal.machine} ${how}; disabled`, fields: { machine: goal.machine, result: how } });
    return EXIT.ok;
  },
});

/** The goal-state settings stop reads (for --help). */
export const stopUses = ["machine", "kubelet.shutdownGracePeriod", "logFormat"];

export const stopExamples = ["kube-rootfs stop --machine kube1", "kube-rootfs stop --machine kube1 --timeout 30"];
