import { defineCommand } from "./command";
import { join } from "node:path";
import { taskLog } from "../engine/log";
import { EXIT } from "../errors";
import { DEFAULT_RECORD } from "../slots/record";
import { resetHost } from "../slots/reset";
import { commonArgs, goalArgs, timeoutArg, timeoutMs } from "./args";
import { setup } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  ...timeoutArg(60),
  cache: { type: "boolean", description: "also delete the cache dir (downloads and rootfs snapshots)" },
  "dry-run": { type: "boolean", description: "list everything reset would remove, and remove nothing" },
  record: { type: "string", description: "the slot record (default /var/lib/kube-rootfs/slots.json under --host-root)", valueHint: "file" },
} as const;

export const resetCommand = defineCommand({
  meta: {
    name: "reset",
    description:
      "Undo what kube-rootfs did to the host: stop and remove every machine and slot it made, its host files (sysctl, .nspawn, drop-ins, slot record), put back the fstab's swap lines; the kernel values applied stay until the next boot",
  },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal, logger } = await setup(parsed, rawArgs, args);
    const dryRun = Boolean(parsed["dry-run"]);
    const opts = {
      cache: Boolean(parsed.cache),
      dryRun,
      recordPath: (parsed.record as string | undefined) ?? join(goal.host.root, DEFAULT_RECORD),
      timeoutMs: timeoutMs(parsed.timeout, 60),
    };
    const steps = await resetHost(goal, opts, taskLog(logger, "reset"));
    const kernel = steps.some((s) => s.what.startsWith("kernel settings")) ? "; the kernel values it set stay until the next boot" : "";
    const msg = !steps.length ? "the host is clean" : dryRun ? `would undo ${steps.length} thing(s)` : `${steps.length} thing(s) undone${kernel}`;
    logger.event({ level: "info", task: "reset", msg, fields: { root: goal.host.root, cache: opts.cache ? "removed" : goal.cacheDir } });
    return EXIT.ok;
  },
});

/** The goal-state settings reset reads (for --help): where the host is, the default machine paths for slots, the cache. */
export const resetUses = ["host", "cacheDir", "logFormat"];

export const resetExamples = ["kube-rootfs reset --dry-run", "kube-rootfs reset", "kube-rootfs reset --cache --log-format json"];
