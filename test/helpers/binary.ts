// The compiled executable under test, built once per test process and target into a temp dir
// (the same flags as scripts/build.ts).
import { join } from "node:path";
import { defaultHostRoot } from "./fake-host";
import { tempDir } from "./tmp";

const ROOT = join(import.meta.dir, "..", "..");
const HOST_TARGET = process.arch === "arm64" ? "linux-arm64" : "linux-x64";
const built = new Map<string, Promise<string>>();

/** The executable for `target` (default this host's), built once per test process. */
export function compiledBinary(target: "linux-x64" | "linux-arm64" = HOST_TARGET): Promise<string> {
  let binary = built.get(target);
  if (!binary) {
    binary = (async () => {
      const outdir = tempDir("bin");
      const proc = Bun.spawn([process.execPath, "scripts/build.ts", "--target", target, "--outdir", outdir], {
        cwd: ROOT,
        stdout: "pipe",
        stderr: "pipe",
      });
      if ((await proc.exited) !== 0) throw new Error(`build failed: ${await new Response(proc.stderr).text()}`);
      return join(outdir, `kube-rootfs-${target}`);
    })();
    built.set(target, binary);
  }
  return binary;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment every test's run of the CLI gets: this process's, cleared of KUBE_ROOTFS_*, with
 * `env` over it. Its host root is the test process's fake host (test/helpers/fake-host.ts) unless
 * the test names one: a test run never changes the kernel settings, swap or /etc of the machine it
 * runs on. A test that spawns the binary itself passes this too.
 */
export function testEnv(env: Record<string, string> = {}): Record<string, string | undefined> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KUBE_ROOTFS_")));
  return { ...clean, KUBE_ROOTFS_HOST_ROOT: defaultHostRoot(), ...env };
}

/** Run a command with the test environment (testEnv) and no TTY. */
export async function run(cmd: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const proc = Bun.spawn(cmd, { env: testEnv(env), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** JSON log lines of a run (non-TTY stdout logs JSON). */
export function events(stdout: string): Array<{ level: string; msg: string; task?: string; duration?: number; fields?: Record<string, unknown> }> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

/** Run the CLI from source (bun src/main.ts): fast, for tests of behaviour rather than packaging. */
export const runSource = (args: string[], env: Record<string, string> = {}) =>
  run([process.execPath, join(ROOT, "src/main.ts"), ...args], env);
