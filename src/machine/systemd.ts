// The host's systemd as start, stop and remove use it: whether it is running at all, every
// machinectl/systemctl call as an argument array (pure, tested as data), and one runner.
import { existsSync, readFileSync } from "node:fs";

/** What tells whether systemd is the host's init: sd_booted(3) checks the directory. */
export interface InitFacts {
  /** /run/systemd/system exists */
  runDir: boolean;
  /** /proc/1/comm, trimmed */
  pid1: string;
}

export function initFacts(): InitFacts {
  let pid1 = "";
  try {
    pid1 = readFileSync("/proc/1/comm", "utf8").trim();
  } catch {
    pid1 = "unknown";
  }
  return { runDir: existsSync("/run/systemd/system"), pid1 };
}

/** Why the host's systemd cannot run the machine, or undefined when it can. */
export function noSystemd(command: string, f: InitFacts): string | undefined {
  if (f.runDir && f.pid1 === "systemd") return undefined;
  const found = [`PID 1 is ${f.pid1 || "unknown"}`, f.runDir ? "/run/systemd/system exists" : "/run/systemd/system is missing"].join(", ");
  return `${command}: the host has no running systemd (${found}); run it on a host booted with systemd, or boot the machine by hand with systemd-nspawn --boot`;
}

export const unitOf = (machine: string) => `systemd-nspawn@${machine}.service`;

/** Every external call, as data. */
export const systemd = {
  /** exits 0 with the state while the machine is registered with machined */
  machineState: (m: string) => ["machinectl", "show", m, "--property=State", "--value"],
  unitState: (m: string) => ["systemctl", "show", unitOf(m), "--property=ActiveState", "--value"],
  enable: (m: string) => ["systemctl", "enable", unitOf(m)],
  disable: (m: string) => ["systemctl", "disable", unitOf(m)],
  start: (m: string) => ["systemctl", "start", unitOf(m)],
  /** queues the stop (no restart follows) without waiting for it */
  stopNoBlock: (m: string) => ["systemctl", "stop", "--no-block", unitOf(m)],
  /** every process of the machine: nspawn, the machine's init and all below it */
  kill: (m: string) => ["machinectl", "kill", "--signal=SIGKILL", m],
  /**
   * The machine's own systemd powers it off through its logind, which emits PrepareForShutdown
   * and waits for delay inhibitors (kubelet's graceful node shutdown); machinectl poweroff
   * signals the machine's PID 1 and skips both.
   */
  poweroff: (m: string) => ["systemctl", "-M", m, "poweroff"],
  /** the signal, for a machine whose systemd does not answer on its bus */
  signalPoweroff: (m: string) => ["machinectl", "poweroff", m],
  terminate: (m: string) => ["machinectl", "terminate", m],
  resetFailed: (m: string) => ["systemctl", "reset-failed", unitOf(m)],
  daemonReload: () => ["systemctl", "daemon-reload"],
  systemState: (m: string) => ["systemctl", "-M", m, "is-system-running"],
  /** the same, but while the machine's systemd is still starting, waits for its StartupFinished signal */
  systemStateWhenBooted: (m: string) => ["systemctl", "-M", m, "is-system-running", "--wait"],
  isEnabled: (m: string) => ["systemctl", "is-enabled", unitOf(m)],
  /** the unit's process: systemd-nspawn, while the machine runs */
  mainPid: (m: string) => ["systemctl", "show", unitOf(m), "--property=MainPID", "--value"],
  failedUnits: (m: string) => ["systemctl", "-M", m, "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager"],
  /** a unit inside the machine: whether it is installed, its state and how it last ended */
  serviceState: (m: string, unit: string) => ["systemctl", "-M", m, "show", unit, "--property=LoadState,ActiveState,Result,NRestarts"],
} as const;

// The runner lives in the engine: the host task (swapoff) runs tools through it too.
export { must, run, type Ran } from "../engine/command";
import { must, run } from "../engine/command";

/** `KEY=value` lines of systemctl show, as a record. */
export function parseShow(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\n")
      .map((l) => /^([A-Za-z]+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

/**
 * A unit with Restart= that keeps exiting is never `failed`, only `activating (auto-restart)`:
 * after this many restarts without being active it has failed as surely, and waiting on is
 * waiting for the timeout.
 */
export const CRASH_LOOP_RESTARTS = 2;

export const crashLooping = (show: Record<string, string>) => show.ActiveState !== "active" && Number(show.NRestarts ?? 0) >= CRASH_LOOP_RESTARTS;

/** The units that failed inside a machine whose systemd says degraded. */
export async function failedUnitsOf(machine: string): Promise<string[]> {
  return (await run(systemd.failedUnits(machine))).stdout.split("\n").map((l) => l.split(/\s+/)[0]!).filter(Boolean);
}

/** Whether machined still has the machine registered (running, or left over by a crash). */
export async function registered(machine: string): Promise<boolean> {
  return (await run(systemd.machineState(machine))).code === 0;
}

/** The unit's ActiveState: active, activating, deactivating, inactive, failed. */
export async function unitState(machine: string): Promise<string> {
  return (await run(systemd.unitState(machine))).stdout || "unknown";
}

/** A process's start time (field 22 of its stat), so that a pid used again is not taken for it; undefined once it is gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[19];
  } catch {
    return undefined;
  }
}

/** The unit's main process (systemd-nspawn, while the machine runs), as this process can watch it. */
export interface MainProcess {
  pid: number;
  started: string;
}

export async function mainProcess(machine: string): Promise<MainProcess | undefined> {
  const pid = Number((await run(systemd.mainPid(machine))).stdout);
  const started = pid > 0 ? startTimeOf(pid) : undefined;
  return started === undefined ? undefined : { pid, started };
}

/** Whether it still runs: read from /proc, no tool run and nothing asked of systemd (which answers nothing while it reloads). */
export const runs = (p: MainProcess) => startTimeOf(p.pid) === p.started;

/** How often a main process is looked at while it is awaited: cheap, so often. */
export const PROCESS_POLL_MS = 20;

/** The first look again comes soon (most waits end within a second), later ones less often. */
const FIRST_POLL_MS = 50;
const POLL_MS = 500;

/**
 * Poll until `check` returns a value; undefined once the deadline (performance.now() ms) passed.
 * The pause doubles from `firstMs` up to `maxMs`, and never overshoots the deadline.
 */
export async function until<T>(deadline: number, check: () => Promise<T | undefined>, firstMs = FIRST_POLL_MS, maxMs = POLL_MS): Promise<T | undefined> {
  for (let pause = firstMs; ; pause = Math.min(pause * 2, maxMs)) {
    const got = await check();
    const left = deadline - performance.now();
    if (got !== undefined || left <= 0) return got;
    await Bun.sleep(Math.min(pause, left));
  }
}

/**
 * Bring the unit's enablement to `want` (enable or disable); a no-op when it already is, which
 * spares the daemon reload systemctl enable and disable make.
 */
export async function enablement(machine: string, want: "enabled" | "disabled"): Promise<void> {
  if ((await run(systemd.isEnabled(machine))).stdout === want) return;
  await must(want === "enabled" ? systemd.enable(machine) : systemd.disable(machine));
}
