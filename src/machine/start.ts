// Start a provisioned machine through the host's systemd and wait until it is a node: its
// systemd has finished booting and containerd is active inside.
import { existsSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import type { Resolved } from "../config/resolve";
import type { TaskLog } from "../engine/log";
import { lockMachine } from "../engine/lock";
import { RunError } from "../errors";
import { crashLooping, enablement, failedUnitsOf, initFacts, mainProcess, noSystemd, parseShow, registered, run, runs, systemd, unitOf, unitState, until, type MainProcess } from "./systemd";

/** Where systemd-nspawn@.service looks for the machine's image and its settings. */
const IMAGE_DIR = "/var/lib/machines";
const SETTINGS_DIRS = ["/etc/systemd/nspawn", "/run/systemd/nspawn"];

const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);

/** Why systemd-nspawn@<machine>.service would not boot the goal's machine, or undefined. */
export function bootProblem(goal: Resolved, exists = existsSync, resolve = real): string | undefined {
  const image = `${IMAGE_DIR}/${goal.machine}`;
  if (!exists(goal.machineDir)) return `machine dir ${goal.machineDir} does not exist; run kube-rootfs provision first`;
  if (!exists(goal.nspawnConfigFile)) return `${goal.nspawnConfigFile} does not exist; run kube-rootfs provision first`;
  if (resolve(image) !== resolve(goal.machineDir))
    return `${unitOf(goal.machine)} boots ${image}, not ${goal.machineDir}; link it there (ln -s ${goal.machineDir} ${image}) or provision with the default machine dir`;
  if (!SETTINGS_DIRS.includes(dirname(goal.nspawnConfigFile)))
    return `systemd-nspawn reads ${goal.machine}.nspawn from ${SETTINGS_DIRS.join(" or ")}, not ${dirname(goal.nspawnConfigFile)}`;
  return undefined;
}

export interface Started {
  /** the machine's systemd: running or degraded */
  system: string;
  /** units that failed inside, when degraded */
  failed: string[];
  /** an earlier run's registration was cleared first */
  cleared: boolean;
  /** it was running already */
  already: boolean;
}

/** A machine still registered from an earlier run (a crash, a hand-started nspawn) blocks the start. */
async function clearRegistration(machine: string): Promise<void> {
  await run(systemd.terminate(machine));
  await run(systemd.resetFailed(machine));
  await until(performance.now() + 10_000, async () => !(await registered(machine)) || undefined);
}

/** Start the unit; true when an earlier run's registration had to be cleared first. */
async function bootUnit(machine: string, log: TaskLog): Promise<boolean> {
  const stale = await registered(machine);
  if (stale) {
    // The drop-in's ExecStartPre does the same; this also covers a drop-in edited by hand.
    log.warn("still registered from an earlier run: terminating it", { machine });
    await clearRegistration(machine);
  }
  const r = await run(systemd.start(machine));
  if (r.code !== 0) throw new RunError(`start ${machine}: ${r.stderr.split("\n")[0] || `systemctl start exited ${r.code}`}; see journalctl -u ${unitOf(machine)}`, r.stderr);
  return stale;
}

/** How long one event wait for the machine's boot may last before it is asked again. */
const BOOT_WAIT_MS = 2_000;

/** How soon its bus is tried again while it does not answer yet: it answers within a second or two of the start. */
const BUS_RETRY_MS = 50;
const BUS_RETRY_MAX_MS = 100;

/**
 * The machine's systemd state once its boot is over: `systemctl is-system-running --wait` waits
 * for its StartupFinished signal (an event, no polling) once its bus answers, tried again soon
 * until it does. A machine that stops while booting ends the wait at once: its main process
 * is watched from here, and the host's systemd asked only once it is gone (or when there is
 * none to watch), as it answers nothing while it reloads (the enable beside this wait).
 */
async function bootedState(m: string, main: MainProcess | undefined, deadline: number, journal: string): Promise<{ system?: string; said: string }> {
  let said = "";
  const system = await until(
    deadline,
    async () => {
      said = (await run(systemd.systemStateWhenBooted(m), Math.min(BOOT_WAIT_MS, deadline - performance.now()))).stdout.split("\n")[0] ?? "";
      if (said === "running" || said === "degraded") return said;
      if (main && runs(main)) return undefined;
      const unit = await unitState(m);
      if (unit === "failed" || unit === "inactive") throw new RunError(`start ${m}: the machine stopped while booting (${unitOf(m)} is ${unit}); ${journal}`);
      return undefined;
    },
    BUS_RETRY_MS,
    BUS_RETRY_MAX_MS,
  );
  return { system, said };
}

/** The points of a start a caller may time: the unit started, the machine's systemd up. */
export type StartStage = "unit started" | "booted";

export async function startMachine(goal: Resolved, timeoutMs: number, log: TaskLog, reached: (stage: StartStage) => void = () => {}): Promise<Started> {
  const m = goal.machine;
  const unsupported = noSystemd("start", initFacts());
  if (unsupported) throw new RunError(unsupported);
  const notBootable = bootProblem(goal);
  if (notBootable) throw new RunError(`start ${m}: ${notBootable}`);
  const deadline = performance.now() + timeoutMs;
  const seconds = `${timeoutMs / 1000}s`;
  const journal = `see journalctl -u ${unitOf(m)}`;

  // Never boot a rootfs that a provision is still writing.
  const lock = lockMachine(m);
  try {
    const already = (await unitState(m)) === "active";
    const cleared = already ? false : await bootUnit(m, log);
    reached("unit started");
    const main = await mainProcess(m);
    // Enabled while it boots: the daemon reload of an enable then costs no time of its own.
    const enabling = enablement(m, "enabled");
    enabling.catch(() => {}); // awaited below, whichever way the wait ends
    log.info(already ? "already running: waiting for it to be ready" : "started: waiting for its systemd", { unit: unitOf(m) });
    let up: Pick<Started, "system" | "failed">;
    try {
      const { system, said } = await bootedState(m, main, deadline, journal);
      if (!system) throw new RunError(`start ${m}: its systemd did not finish booting within ${seconds} (it says: ${said || "no answer"}); ${journal}`);
      reached("booted");
      up = await containerdUp(m, system, deadline, seconds);
    } catch (err) {
      await enabling.catch(() => {});
      throw err;
    }
    await enabling;
    return { ...up, cleared, already };
  } finally {
    lock.release();
  }
}

/** Wait for containerd inside a booted machine; what its systemd said, and the units that failed. */
async function containerdUp(m: string, system: string, deadline: number, seconds: string): Promise<Pick<Started, "system" | "failed">> {
  const failed = system === "degraded" ? await failedUnitsOf(m) : [];

  let containerd = "";
  const active = await until(deadline, async () => {
    const s = parseShow((await run(systemd.serviceState(m, "containerd.service"))).stdout);
    containerd = s.ActiveState ?? "";
    if (s.LoadState === "not-found") throw new RunError(`start ${m}: containerd.service is not installed in the machine; run kube-rootfs provision`);
    if (containerd === "failed") throw new RunError(`start ${m}: containerd failed inside the machine; see journalctl -M ${m} -u containerd`);
    if (crashLooping(s)) throw new RunError(`start ${m}: containerd keeps exiting inside the machine (restarted ${s.NRestarts} times); see journalctl -M ${m} -u containerd`);
    return containerd === "active" || undefined;
  });
  if (!active) throw new RunError(`start ${m}: containerd is ${containerd || "unknown"} inside the machine after ${seconds}; see journalctl -M ${m} -u containerd`);
  return { system, failed };
}
