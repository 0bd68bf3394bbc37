// Start a provisioned machine through the host's systemd and wait until it is a node: its
// systemd has finished booting and containerd is active inside.
import { existsSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import type { Resolved } from "../config/resolve";
import type { TaskLog } from "../engine/log";
import { lockMachine } from "../engine/lock";
import { RunError } from "../errors";
import { crashLooping, failedUnitsOf, initFacts, must, noSystemd, parseShow, registered, run, systemd, unitOf, unitState, until } from "./systemd";

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

/** Enable and start the unit; true when an earlier run's registration had to be cleared first. */
async function bootUnit(machine: string, log: TaskLog): Promise<boolean> {
  const stale = await registered(machine);
  if (stale) {
    // The drop-in's ExecStartPre does the same; this also covers a drop-in edited by hand.
    log.warn("still registered from an earlier run: terminating it", { machine });
    await clearRegistration(machine);
  }
  await must(systemd.enable(machine));
  const r = await run(systemd.start(machine));
  if (r.code !== 0) throw new RunError(`start ${machine}: ${r.stderr.split("\n")[0] || `systemctl start exited ${r.code}`}; see journalctl -u ${unitOf(machine)}`, r.stderr);
  return stale;
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
    let cleared = false;
    if (already) await must(systemd.enable(m));
    else cleared = await bootUnit(m, log);
    reached("unit started");
    log.info(already ? "already running: waiting for it to be ready" : "started: waiting for its systemd", { unit: unitOf(m) });

    let said = "";
    const system = await until(deadline, async () => {
      const unit = await unitState(m);
      if (unit === "failed" || unit === "inactive") throw new RunError(`start ${m}: the machine stopped while booting (${unitOf(m)} is ${unit}); ${journal}`);
      said = (await run(systemd.systemState(m))).stdout.split("\n")[0] ?? "";
      return said === "running" || said === "degraded" ? said : undefined;
    });
    if (!system) throw new RunError(`start ${m}: its systemd did not finish booting within ${seconds} (it says: ${said || "no answer"}); ${journal}`);
    reached("booted");
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
    return { system, failed, cleared, already };
  } finally {
    lock.release();
  }
}
