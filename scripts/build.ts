// Compile one self-contained executable per target, with version and commit baked in, and
// write dist/SHA256SUMS in `sha256sum -c` format.
// Usage: bun scripts/build.ts [--target linux-x64] [--outdir dist] [--no-bytecode]
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { goalFields } from "../src/config/fields-derive";

export const TARGETS = ["linux-x64", "linux-arm64"] as const;

/** How many times more reluctant than normal the JIT is while the executable starts (see src/main.ts). */
const START_JIT_POLICY = 64;

const { values } = parseArgs({
  options: {
    target: { type: "string", multiple: true },
    outdir: { type: "string", default: "dist" },
    "no-bytecode": { type: "boolean", default: false },
  },
});

const root = join(import.meta.dir, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const commit = (() => {
  const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root });
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: root }).stdout.length > 0;
  return r.exitCode === 0 ? r.stdout.toString().trim() + (dirty ? "-dirty" : "") : "unknown";
})();

const targets = (values.target ?? [...TARGETS]) as string[];
for (const t of targets) if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`--target: expected ${TARGETS.join("|")}, got ${t}`);

const outdir = resolve(root, values.outdir!);
mkdirSync(outdir, { recursive: true });
const sums: string[] = [];
for (const target of targets) {
  const outfile = join(outdir, `kube-rootfs-${target}`);
  rmSync(outfile, { force: true });
  const args = [
    process.execPath, "build", "--compile", `--target=bun-${target}`,
    // Measured: bytecode halves start-up (see docs/development.md, Building); minify keeps the binary lean.
    ...(values["no-bytecode"] ? [] : ["--bytecode"]),
    "--minify",
    // Each module a command or a run loads on demand (import()) is a chunk of its own, read only
    // when imported: `version` and --help no longer load the bytecode of every task (ESM only).
    "--splitting", "--format=esm",
    // Start-up code runs once: at the normal JIT policy, the module wrappers and zod's
    // constructors it calls a few hundred times are compiled on JIT threads, which costs a warm
    // run a third of its CPU time. main.ts returns to the normal policy once start-up is over.
    `--compile-jit-policy=${START_JIT_POLICY}`,
    "--define", `KUBE_ROOTFS_VERSION=${JSON.stringify(pkg.version)}`,
    "--define", `KUBE_ROOTFS_COMMIT=${JSON.stringify(commit)}`,
    "--define", `KUBE_ROOTFS_TARGET=${JSON.stringify(target)}`,
    // The goal's fields as data: start-up reads the flags without building the zod schema.
    "--define", `KUBE_ROOTFS_FIELDS=${JSON.stringify(JSON.stringify(goalFields()))}`,
    // consola reads import.meta.env: the environment, as it is under `bun run`.
    "--define", "import.meta.env=process.env",
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    // The byte worker is an entrypoint of its own: a compiled executable embeds a Worker's code
    // only so (src/artifacts/asset-sink.ts finds it at /$bunfs/root/artifacts/byte-worker.js).
    join(root, "src/main.ts"), join(root, "src/artifacts/byte-worker.ts"), "--outfile", outfile,
  ];
  const r = Bun.spawnSync(args, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) process.exit(r.exitCode ?? 1);
  const hash = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(outfile).stream()) hash.update(chunk);
  sums.push(`${hash.digest("hex")}  ${basename(outfile)}`);
}
await Bun.write(join(outdir, "SHA256SUMS"), sums.join("\n") + "\n");
console.log(`built ${targets.join(", ")} ${pkg.version} (${commit}) into ${outdir}`);
