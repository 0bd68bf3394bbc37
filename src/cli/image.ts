import { defineCommand } from "./command";
import { interruptible } from "../engine/interrupt";
import { writeStdout } from "../engine/stdio";
import { ConfigError, EXIT, Interrupted } from "../errors";
import { imagePushTask, type Pushed } from "../images/push";
import { parseRegistryRef } from "../oci/ref";
import { imagePushChecks, readinessTask, runWhenReady } from "../readiness";
import { commonArgs, goalArgs } from "./args";
import { checkFlags } from "./flags";
import { goalsPerArch, loggerFor } from "./goal";

const COMPRESSIONS = ["zstd", "gzip"] as const;

const args = {
  action: { type: "positional", description: "push: make an image of the bootstrap snapshot and push it", valueHint: "push", required: false },
  ref: { type: "positional", description: "where to push: registry/repo:tag", valueHint: "REF", required: false },
  ...goalArgs,
  ...commonArgs,
  arch: { type: "string", description: "architectures in the image, comma-separated; several make an index (default: the host's) [KUBE_ROOTFS_ARCH]", valueHint: "amd64,arm64" },
  compression: { type: "string", description: "layer compression: zstd, or gzip for runtimes without zstd (default zstd)", valueHint: "zstd|gzip" },
  "dry-run": { type: "boolean", description: "say what would be bootstrapped and pushed; change nothing" },
} as const;

export const imageCommand = defineCommand({
  meta: { name: "image", description: "image push REF: the bootstrap snapshot of each --arch as a one-layer OCI image (an index for several), pushed to a registry; prints its digest" },
  args,
  async run({ args: parsed, rawArgs }) {
    checkFlags(rawArgs, args);
    if (parsed.action !== "push") throw new ConfigError(`image: expected the action push, got ${parsed.action ?? "none"} (kube-rootfs image push REF)`);
    if (!parsed.ref) throw new ConfigError("image push: give the image reference to push to (registry/repo:tag)");
    const ref = parseRegistryRef(parsed.ref);
    const compression = parsed.compression ?? "zstd";
    if (!(COMPRESSIONS as readonly string[]).includes(compression)) throw new ConfigError(`--compression: expected ${COMPRESSIONS.join("|")}, got ${compression}`);
    const goals = goalsPerArch(parsed, rawArgs);
    const logger = await loggerFor(goals[0]!, parsed);
    const run = interruptible(logger);
    let pushed: Pushed | undefined;
    try {
      const task = imagePushTask(goals, ref, compression as (typeof COMPRESSIONS)[number], (p) => (pushed = p));
      await runWhenReady(readinessTask(() => imagePushChecks(goals)), task, { signal: run.signal, logger: run.logger, dryRun: Boolean(parsed["dry-run"]) });
    } catch (err) {
      const stopped = run.interrupted();
      if (!stopped) throw err;
      throw new Interrupted(`interrupted by ${stopped.name}; nothing was tagged, run image push again`, stopped.code);
    } finally {
      run.dispose();
    }
    if (pushed) writeStdout(`${pushed.digest}\n`);
    return EXIT.ok;
  },
});

export const imageExamples = [
  "kube-rootfs image push registry.example:5000/rootfs/bookworm:1 --arch amd64,arm64",
  "kube-rootfs image push 127.0.0.1:5000/rootfs:noble --compression gzip --bootstrap-suite noble",
  "kube-rootfs image push registry.example/rootfs:1 --registry-auth /root/.docker/config.json --registry-ca /etc/ssl/registry-ca.pem",
];
