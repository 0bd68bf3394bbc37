// Stop a machine and keep it down: stop undoes start, so the machine stays off across host
// reboots until the next start (two rootfs, kube1 and kube2, must never both come back).
import type { Resolved } from "../config/resolve";
import { durationSeconds } from "../config/schema";
import type { TaskLog } from "../engine/log";
import { RunError } from "../errors";
import { enablement, initFacts, mainProcess, must, noSystemd, PROCESS_POLL_MS, registered, run, runs, systemd, unitOf, unitState, until, type MainProcess } from "./systemd";

/** How long a killed machine gets to be gone before stop gives up. */
const KILL_GRACE_MS = 15_000;

/** Beyond kubelet's grace, what the machine's own units get to stop. */
export const STOP_MARGIN_S = 30;

/** How long a poweroff may take before the machine is killed: the pods' grace, then the margin. */
export const poweroffTimeoutMs = (goal: Resolved) => (durationSeconds(goal.kubelet.shutdownGracePeriod) + STOP_MARGIN_S) * 1000;

export type Stopped = "powered off" | "killed" | "was not running";

async function down(machine: string): Promise<boolean> {
  const unit = await unitState(machine);
  return (unit === "inactive" || unit === "failed") && !(await registered(machine));
}

/**
 * Wait until the unit is down. The host's systemd here (252) offers no tool a way to wait for a
 * unit to stop (no busctl wait; a bus monitor sees its signals only while someone subscribed),
 * so the wait first watches the unit's main process (taken before the poweroff) from this
 * process, often and without running a tool, then asks systemd until it says so too.
 */
async function waitDown(machine: string, ms: number, main?: MainProcess): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (main && runs(main) && performance.now() < deadline) await Bun.sleep(PROCESS_POLL_MS);
  return (await until(deadline, async () => (await down(machine)) || undefined, PROCESS_POLL_MS)) ?? false;
}

/**
 * Disable the machine, power it off (bounded), kill it when it does not go. `reached` says when
 * it is disabled (and about to be powered off) and when it is down.
 */
export async function stopMachine(goal: Resolved, timeoutMs: number, log: TaskLog, reached: (stage: "disabled" | "down") => void = () => {}): Promise<Stopped> {
  const m = goal.machine;
  const unsupported = noSystemd("stop", initFacts());
  if (unsupported) throw new RunError(unsupported);
  let result: Stopped = "was not running";
  const running = !(await down(m));
  const main = running ? await mainProcess(m) : undefined;
  // Disabled first, while it still runs: the daemon reload a disable makes then keeps neither
  // the machine's shutdown nor the checks that it is down waiting (systemd answers nothing
  // while it reloads).
  await enablement(m, "disabled");
  reached("disabled");
  if (running) {
    // poweroff asks the machine's systemd for a clean shutdown, through its logind so that
    // kubelet stops its pods first; a machine whose bus does not answer gets the signal. Both
    // fail harmlessly when the machine is not registered (a unit waiting to restart), which
    // the stop below ends.
    if ((await run(systemd.poweroff(m))).code !== 0) await run(systemd.signalPoweroff(m));
    result = "powered off";
    if (!(await waitDown(m, timeoutMs, main))) {
      log.warn(`did not power off within ${timeoutMs / 1000}s: killing it`, { machine: m });
      // The queued stop keeps Restart=on-failure from bringing the killed machine back.
      await must(systemd.stopNoBlock(m));
      if (await registered(m)) await run(systemd.kill(m));
      result = "killed";
      if (!(await waitDown(m, KILL_GRACE_MS))) throw new RunError(`stop ${m}: still running after SIGKILL; see machinectl status ${m} and journalctl -u ${unitOf(m)}`);
    }
  }
  reached("down");
  // A failed unit keeps its state until reset; stopped is a clean slate for the next start.
  await run(systemd.resetFailed(m));
  return result;
}
