// Boot a machine dir with systemd-nspawn (no host systemd needed: --register=no --keep-unit),
// reading its generated .nspawn from /run/systemd/nspawn and the Environment= lines of its
// generated service override, inside a network namespace of its own (the machine shares
// "the host's" network: this one, so nothing it creates touches the real host's), run
// commands inside through nsenter, and power it off cleanly.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface Booted {
  name: string;
  init: number;
  /** Run argv inside the machine: stdout, stderr, exit code. */
  exec(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Wait until systemd has finished starting up; its final state. */
  settled(timeoutMs?: number): Promise<string>;
  /** systemd's clean poweroff; resolves to nspawn's exit code. */
  poweroff(timeoutMs?: number): Promise<number>;
  /** nspawn's console output so far. */
  console(): string;
}

const SETTINGS_DIR = "/run/systemd/nspawn";
/** SIGRTMIN+4 as Linux numbers it (glibc's SIGRTMIN is 34). */
const SIGRTMIN_4 = 38;

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Environment= settings of a service drop-in, as systemd would pass them to nspawn. */
function environmentOf(override: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of override.matchAll(/^Environment=([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)) env[m[1]!] = m[2]!;
  return env;
}

/**
 * Boot `dir` with its .nspawn settings, the Environment= lines of its service drop-in (as
 * systemd would pass them) and any extra `env`, in a fresh network namespace.
 */
export async function boot(name: string, dir: string, files: { nspawn: string; override?: string; env?: Record<string, string> }): Promise<Booted> {
  mkdirSync(SETTINGS_DIR, { recursive: true });
  const settings = join(SETTINGS_DIR, `${name}.nspawn`);
  copyFileSync(files.nspawn, settings);
  const env = { ...process.env, ...(files.override ? environmentOf(readFileSync(files.override, "utf8")) : {}), ...files.env };
  const nspawn = ["systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--settings=trusted", "--console=pipe", "-M", name, "-D", dir];
  // unshare execs nspawn in place: the same pid, in a fresh network namespace with only lo.
  const proc = Bun.spawn(["unshare", "--net", "--", ...nspawn], {
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  const drain = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += new TextDecoder().decode(chunk);
  };
  const drained = Promise.all([drain(proc.stdout), drain(proc.stderr)]);

  // The container's init is nspawn's child once it has exec'd systemd.
  let init = 0;
  for (let i = 0; i < 200 && !init; i++) {
    init = childrenOf(proc.pid).find((c) => readFileSync(`/proc/${c}/comm`, "utf8").trim() === "systemd") ?? 0;
    if (!init) await sleep(100);
    if (proc.exitCode !== null) throw new Error(`systemd-nspawn exited ${proc.exitCode}: ${out}`);
  }
  if (!init) throw new Error(`no systemd inside ${name} after 20s: ${out}`);

  const exec = async (argv: string[]) => {
    const p = Bun.spawn(["nsenter", "-t", String(init), "-m", "-u", "-i", "-n", "-p", "--", ...argv], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  };

  return {
    name,
    init,
    exec,
    console: () => out,
    async settled(timeoutMs = 120_000) {
      // Right after exec, systemd answers "offline" (no bus yet) or nothing: poll until it
      // reports a state that is past start-up.
      const deadline = performance.now() + timeoutMs;
      let state = "";
      while (performance.now() < deadline) {
        state = (await exec(["systemctl", "is-system-running"])).stdout.trim();
        if (["running", "degraded", "maintenance", "stopping"].includes(state)) return state;
        await sleep(500);
      }
      return `timeout (last: ${state || "no answer"})`;
    },
    async poweroff(timeoutMs = 60_000) {
      // SIGRTMIN+4 asks systemd for poweroff.target: the same clean shutdown as systemctl poweroff.
      process.kill(init, SIGRTMIN_4);
      const code = await Promise.race([proc.exited, sleep(timeoutMs).then(() => undefined)]);
      if (code === undefined) proc.kill("SIGKILL");
      await drained;
      rmSync(settings, { force: true });
      if (code === undefined) throw new Error(`${name} did not power off within ${timeoutMs / 1000}s: ${out.slice(-2000)}`);
      return code;
    },
  };
}
