// Run an external tool with an argument array (never through a shell), its output collected:
// systemctl and machinectl for the machine, swapoff for the host task.
import { RunError } from "../errors";

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run argv (never through a shell), killed after `timeoutMs` when given; a missing tool is a RunError naming it. */
export async function run(argv: readonly string[], timeoutMs?: number): Promise<Ran> {
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    proc = Bun.spawn([...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C.UTF-8", SYSTEMD_PAGER: "" }, ...(timeoutMs === undefined ? {} : { timeout: Math.max(1, Math.round(timeoutMs)) }) });
  } catch (err) {
    throw new RunError(`${argv[0]}: ${(err as Error).message}`);
  }
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: stdout.trim(), stderr: stderr.trim() };
}

/** Run argv and fail with its own words when it fails. */
export async function must(argv: readonly string[]): Promise<Ran> {
  const r = await run(argv);
  if (r.code !== 0) throw new RunError(`${argv.join(" ")} failed (exit ${r.code})${r.stderr ? `: ${r.stderr.split("\n")[0]}` : ""}`, r.stderr);
  return r;
}
