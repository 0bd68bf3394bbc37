import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { checkBundle } from "../bundle/check";
import { fetchTask } from "../bundle/fetch";
import { emptyLock, LOCK_FILE, mergeLock, readLock, writeLock } from "../bundle/lock";
import { interruptible } from "../engine/interrupt";
import { runTask } from "../engine/task";
import { ConfigError, EXIT, Interrupted } from "../errors";
import { checkFlags, commonArgs, goalArgs } from "./args";
import { goalsPerArch, loggerFor } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  arch: { type: "string", description: "architectures to fetch, comma-separated (default: the host's) [KUBE_ROOTFS_ARCH]", valueHint: "amd64,arm64" },
  bundle: { type: "string", description: "bundle directory, in the cache's upstream layout (default: --cache-dir)", valueHint: "dir" },
  "with-rootfs": { type: "boolean", description: "also keep the base rootfs snapshot of the suite for each arch (needs root and the bootstrap tool; another arch needs its qemu binfmt handler)" },
  check: { type: "boolean", description: "verify a bundle against its lock (every file, size and sha256) instead of fetching; exit 1 on any problem" },
  "dry-run": { type: "boolean", description: "print every URL and path that would be fetched; change nothing" },
} as const;

export const fetchCommand = defineCommand({
  meta: { name: "fetch", description: "Fill a bundle (cache dir) with every artifact for one or more arches, and write kube-rootfs.lock; or --check one" },
  args,
  async run({ args: parsed, rawArgs }) {
    checkFlags(rawArgs, args);
    // The bundle is the cache dir of every per-arch goal.
    const goals = goalsPerArch(parsed, rawArgs, typeof parsed.bundle === "string" ? { "cache-dir": resolve(parsed.bundle) } : {});
    const bundle = goals[0]!.cacheDir;
    const logger = await loggerFor(goals[0]!, parsed);
    const lockPath = join(bundle, LOCK_FILE);

    if (parsed.check) {
      const source = goals[0]!.lock ? resolve(goals[0]!.lock) : lockPath;
      if (!existsSync(source)) throw new ConfigError(`fetch --check: ${source} not found (a bundle made by kube-rootfs fetch has one)`);
      const { problems, checked } = await checkBundle(bundle, readLock(source));
      for (const p of problems) process.stderr.write(`kube-rootfs: ${p}\n`);
      logger.event({ level: problems.length ? "error" : "info", task: "check", msg: problems.length ? `${problems.length} problem(s) in ${bundle}` : `bundle ok: ${checked} files verified`, fields: { bundle, lock: source } });
      return problems.length ? EXIT.failed : EXIT.ok;
    }

    const dryRun = Boolean(parsed["dry-run"]);
    const lock = emptyLock();
    const run = interruptible(logger);
    try {
      run.logger.event({ level: "info", msg: dryRun ? "plan" : "fetch", fields: { bundle, arches: goals.map((g) => g.arch), kubernetes: goals[0]!.versions.kubernetes } });
      await runTask(fetchTask(goals, Boolean(parsed["with-rootfs"]), lock), { signal: run.signal, logger: run.logger, dryRun });
      if (!dryRun) {
        await writeLock(lockPath, mergeLock(existsSync(lockPath) ? readLock(lockPath) : emptyLock(), lock));
        run.logger.event({ level: "info", msg: "lock written", fields: { path: lockPath } });
      }
      return EXIT.ok;
    } catch (err) {
      const stopped = run.interrupted();
      if (!stopped) throw err;
      throw new Interrupted(`interrupted by ${stopped.name}; temp files removed, run fetch again to resume`, stopped.code);
    } finally {
      run.dispose();
    }
  },
});

export const fetchExamples = [
  "kube-rootfs fetch --bundle /srv/bundle --arch amd64,arm64 --with-rootfs",
  "kube-rootfs fetch --check --bundle /media/usb/bundle",
  "kube-rootfs fetch --bundle /srv/bundle --lock kube-rootfs.lock --kubernetes-version 1.33.1",
];
