import { defineCommand } from "./command";
import { taskLog } from "../engine/log";
import { EXIT } from "../errors";
import { removeMachine } from "../machine/remove";
import { commonArgs, goalArgs, timeoutArg, timeoutMs } from "./args";
import { setup } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  ...timeoutArg(60),
  "purge-cache": { type: "boolean", description: "also delete the cache dir (downloads and rootfs snapshots, shared by every machine)" },
} as const;

export const removeCommand = defineCommand({
  meta: { name: "remove", description: "Stop and disable the machine, then delete its rootfs, .nspawn file and service drop-in; the cache stays" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal, logger } = await setup(parsed, rawArgs, args);
    const dirOnCommandLine = rawArgs.some((a) => a === "--machine-dir" || a.startsWith("--machine-dir="));
    const purgeCache = Boolean(parsed["purge-cache"]);
    const removed = await removeMachine(goal, { timeoutMs: timeoutMs(parsed.timeout, 60), purgeCache, dirOnCommandLine }, taskLog(logger, "remove"));
    logger.event({
      level: "info",
      task: "remove",
      msg: removed.length ? `${goal.machine} removed` : `${goal.machine}: nothing left to remove`,
      fields: { machine: goal.machine, removed, cache: purgeCache ? "purged" : goal.cacheDir },
    });
    return EXIT.ok;
  },
});

/** The goal-state settings remove reads (for --help). */
export const removeUses = ["machine", "machineDir", "nspawnConfigFile", "serviceOverrideFile", "host", "cacheDir", "logFormat"];

export const removeExamples = [
  "kube-rootfs remove --machine kube1",
  "kube-rootfs remove --machine kube2 --purge-cache",
  "kube-rootfs remove --machine node --machine-dir /srv/rootfs/node",
];
