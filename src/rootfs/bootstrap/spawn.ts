// Run a long external tool (debootstrap, tar, zstd) with its output going to a log file, in its
// own process group so that an abort stops it and every child it started (wget, dpkg, chroot).
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { abortError } from "../../engine/task";
import { RunError } from "../../errors";
import { ioError } from "../../fs/atomic";

const GRACE_MS = 5000;

/** Stop a process group: SIGTERM, then SIGKILL after a grace period. */
export function killGroup(pid: number, exited: Promise<unknown>): void {
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // the group is gone already
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), GRACE_MS);
  void exited.finally(() => clearTimeout(timer));
}

/** Resolves once no process of the group is left (bounded: an unreaped zombie still counts). */
async function groupGone(pgid: number): Promise<void> {
  for (const deadline = performance.now() + 2 * GRACE_MS; performance.now() < deadline; ) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await Bun.sleep(50);
  }
}

/** Open (append) the log file a tool writes into; its directory is private to root. */
export function openLog(logFile: string): number {
  try {
    mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
    return openSync(logFile, "a", 0o600);
  } catch (err) {
    throw ioError(`open log ${logFile}`, err);
  }
}

export function appendLog(logFile: string, text: string): void {
  try {
    appendFileSync(logFile, text);
  } catch {
    // the log is a diagnostic; the error being reported matters more
  }
}

/** The last `n` non-empty lines of a file, for quoting in an error. */
export function tailLines(file: string, n = 8): string[] {
  try {
    // "# …" lines are the headers kube-rootfs writes between tool runs, not the tool's words.
    return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("# ")).slice(-n);
  } catch {
    return [];
  }
}

/** A failed tool: names the log file and quotes its last lines (all of them with --verbose). */
export function toolFailed(what: string, code: number, logFile: string): RunError {
  const tail = tailLines(logFile, 5);
  return new RunError(
    `${what} failed (exit ${code}); log ${logFile}${tail.length ? `, ending: ${tail.join(" | ")}` : ""}`,
    tailLines(logFile, 40).join("\n"),
  );
}

/** Run argv with stdout and stderr appended to logFile; resolves to the exit code. */
export async function runLogged(argv: string[], logFile: string, signal: AbortSignal): Promise<number> {
  if (signal.aborted) throw abortError();
  const fd = openLog(logFile);
  appendLog(logFile, `\n# ${new Date().toISOString()} ${argv.join(" ")}\n`);
  let proc: Bun.Subprocess;
  try {
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: fd, stderr: fd, detached: true, env: { ...process.env, LC_ALL: "C.UTF-8" } });
  } catch (err) {
    throw new RunError(`start ${argv[0]}: ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
  const onAbort = () => killGroup(proc.pid, groupGone(proc.pid));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const code = await proc.exited;
    if (signal.aborted) {
      // Its children (dpkg, chroot) may outlive it for a moment: the staging dir is removed
      // next, so wait until nothing of the group is left.
      await groupGone(proc.pid);
      throw abortError();
    }
    return code;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
