import { defineCommand } from "./command";
import { join, resolve } from "node:path";
import { checkBundleLock } from "../bundle/check";
import { fetchBundle } from "../bundle/fetch";
import { LOCK_FILE } from "../bundle/lock";
import { describeSuite } from "../config/resolve";
import { interruptible } from "../engine/interrupt";
import { writeStderr } from "../engine/stdio";
import { EXIT, Interrupted } from "../errors";
import { commonArgs, goalArgs } from "./args";
import { checkFlags } from "./flags";
import { goalsPerArch, loggerFor } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  arch: { type: "string", description: "architectures to fetch, comma-separated (default: the host's) [KUBE_ROOTFS_ARCH]", valueHint: "amd64,arm64" },
  bundle: { type: "string", description: "bundle directory, in the cache's upstream layout (default: --cache-dir)", valueHint: "dir" },
  "with-rootfs": { type: "boolean", description: "also keep the base rootfs snapshot of the suite for each arch (needs root and the bootstrap tool; another arch needs its qemu binfmt handler)" },
  check: { type: "boolean", description: "verify a bundle against its lock (every file, size and sha256, every image blob) instead of fetching; exit 1 on any problem" },
  "dry-run": { type: "boolean", description: "print every URL and path that would be fetched, then what would stop a real run; change nothing" },
} as const;

export const fetchCommand = defineCommand({
  meta: { name: "fetch", description: "Fill a bundle (cache dir) with every artifact and pre-loaded image for one or more arches, and write kube-rootfs.lock; or --check one" },
  args,
  async run({ args: parsed, rawArgs }) {
    checkFlags(rawArgs, args);
    // The bundle is the cache dir of every per-arch goal.
    const goals = goalsPerArch(parsed, rawArgs, typeof parsed.bundle === "string" ? { "cache-dir": resolve(parsed.bundle) } : {});
    const bundle = goals[0]!.cacheDir;
    const logger = await loggerFor(goals[0]!, parsed);

    if (parsed.check) {
      const { problems, checked, source } = await checkBundleLock(bundle, goals[0]!.lock);
      for (const p of problems) writeStderr(`kube-rootfs: ${p}\n`);
      logger.event({ level: problems.length ? "error" : "info", task: "check", msg: problems.length ? `${problems.length} problem(s) in ${bundle}` : `bundle ok: ${checked} files verified`, fields: { bundle, lock: source } });
      return problems.length ? EXIT.failed : EXIT.ok;
    }

    const dryRun = Boolean(parsed["dry-run"]);
    const withRootfs = Boolean(parsed["with-rootfs"]);
    const run = interruptible(logger);
    try {
      const rootfs = withRootfs ? { suite: describeSuite(goals[0]!.bootstrap), tool: goals[0]!.bootstrap.tool } : {};
      run.logger.event({ level: "info", msg: dryRun ? "plan" : "fetch", fields: { bundle, arches: goals.map((g) => g.arch), kubernetes: goals[0]!.versions.kubernetes, ...rootfs } });
      await fetchBundle(goals, withRootfs, join(bundle, LOCK_FILE), { signal: run.signal, logger: run.logger, dryRun });
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

/** What fills a bundle (for --help); the machine's own settings play no part. */
export const fetchUses = [
  "arch", "versions", "mirror", "downloads", "bootstrap", "images", "runtime", "registry", "cacheDir", "offline", "lock", "retries", "concurrency", "timeouts", "maxDownloadBytes", "logFormat",
];

export const fetchExamples = [
  "kube-rootfs fetch --bundle /srv/bundle --arch amd64,arm64 --with-rootfs",
  "kube-rootfs fetch --bundle /srv/bundle --images registry.example:5000/cni/flannel:v0.26.1",
  "kube-rootfs fetch --check --bundle /media/usb/bundle",
  "kube-rootfs fetch --bundle /srv/bundle --lock kube-rootfs.lock --kubernetes-version 1.33.1",
];
