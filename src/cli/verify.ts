import { defineCommand } from "./command";
import { existsSync } from "node:fs";
import { EXIT, RunError } from "../errors";
import { verifyMachine } from "../verify";
import { commonArgs, goalArgs } from "./args";
import { checkFlags } from "./flags";
import { loggerFor, savedGoalFrom } from "./goal";

const args = { ...goalArgs, ...commonArgs } as const;

export const verifyCommand = defineCommand({
  meta: { name: "verify", description: "Re-check an existing machine and what it needs of the host against the goal its last provision saved (flags override) and report every drift" },
  args,
  async run({ args: parsed, rawArgs }) {
    checkFlags(rawArgs, args);
    const { goal, savedFrom } = savedGoalFrom(parsed, rawArgs);
    const logger = await loggerFor(goal, parsed);
    if (!existsSync(goal.machineDir)) throw new RunError(`verify: machine dir ${goal.machineDir} does not exist`);
    const drifts = await verifyMachine(goal);
    for (const d of drifts) {
      logger.event({ level: "warn", task: "verify", msg: "drift", fields: { path: d.path, expected: d.expected, found: d.found } });
    }
    logger.event({ level: drifts.length ? "warn" : "info", task: "verify", msg: drifts.length ? `${drifts.length} drift(s)` : "clean", fields: { machine: goal.machine, goal: savedFrom ?? "as given" } });
    return drifts.length ? EXIT.drift : EXIT.ok;
  },
});

/** What verify compares: the rendered files, the OS files and the installed artifacts (for --help). */
export const verifyUses = [
  "machine", "machineDir", "nspawnConfigFile", "serviceOverrideFile", "arch", "hostname", "hostModules", "hostDevices", "gpu", "host",
  "hostResolvConf", "versions", "mirror", "downloads", "bootstrap", "lock", "logFormat", "skipPhases",
];

export const verifyExamples = [
  "kube-rootfs verify --machine kube1",
  "kube-rootfs verify --machine-dir /srv/rootfs --hostname node-7",
  "kube-rootfs verify --config node.yaml --log-format json",
];
