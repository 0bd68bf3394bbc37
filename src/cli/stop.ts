import { defineCommand } from "./command";
import { taskLog } from "../engine/log";
import { EXIT } from "../errors";
import { stopMachine } from "../machine/stop";
import { commonArgs, goalArgs, timeoutArg, timeoutMs } from "./args";
import { setup } from "./goal";

const args = { ...goalArgs, ...commonArgs, ...timeoutArg(60) } as const;

export const stopCommand = defineCommand({
  meta: { name: "stop", description: "Power the machine off (terminate it after --timeout) and disable it, so it stays down across host reboots" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal, logger } = await setup(parsed, rawArgs, args);
    const how = await stopMachine(goal, timeoutMs(parsed.timeout, 60), taskLog(logger, "stop"));
    logger.event({ level: "info", task: "stop", msg: `${goal.machine} ${how}; disabled`, fields: { machine: goal.machine, result: how } });
    return EXIT.ok;
  },
});

/** The goal-state settings stop reads (for --help). */
export const stopUses = ["machine", "logFormat"];

export const stopExamples = ["kube-rootfs stop --machine kube1", "kube-rootfs stop --machine kube1 --timeout 30"];
