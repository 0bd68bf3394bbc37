// The switch's actions on real machines, through the host's systemd (machine/), with the time
// each step began: the node's downtime runs from stopping the old slot to the new one healthy.
import type { Resolved } from "../config/resolve";
import type { Logger } from "../engine/log";
import { taskLog } from "../engine/log";
import { startMachine } from "../machine/start";
import { poweroffTimeoutMs, stopMachine } from "../machine/stop";
import { carryIdentity } from "./carry";
import { waitHealthy } from "./health";
import { writeRecord, type SlotRecord, type Step } from "./record";
import type { SlotActions } from "./switch";

export interface MachineActions extends SlotActions {
  /** ms from the old slot's stop to the new slot's health, once both happened */
  downtimeMs(): number | undefined;
  /** log the last step's end */
  end(): void;
}

export function machineActions(opts: { recordPath: string; timeoutMs: number; logger: Logger; task: string; goalOf(slot: string): Resolved }): MachineActions {
  const log = taskLog(opts.logger, opts.task);
  let stepAt = performance.now();
  let step: Step | undefined;
  let downFrom: number | undefined;
  let upAt: number | undefined;
  // --timeout bounds each machine's way up: its boot and its health.
  let deadline = 0;
  const endStep = () => step && opts.logger.event({ level: "info", task: opts.task, msg: `${step} completed`, duration: performance.now() - stepAt });
  return {
    async stop(slot) {
      const goal = opts.goalOf(slot);
      const how = await stopMachine(goal, poweroffTimeoutMs(goal), log);
      log.info(`${slot} ${how}; disabled`, { machine: slot, result: how });
    },
    async carry(from, to) {
      const carried = carryIdentity(opts.goalOf(from).machineDir, opts.goalOf(to).machineDir);
      log.info(`carried the node's identity from ${from} to ${to}`, { carried });
    },
    async start(slot) {
      deadline = performance.now() + opts.timeoutMs;
      const s = await startMachine(opts.goalOf(slot), opts.timeoutMs, log);
      log.info(`${slot} is up: systemd ${s.system}, containerd active`, { machine: slot, system: s.system, failed: s.failed });
    },
    async healthy(slot) {
      await waitHealthy(opts.goalOf(slot), deadline || performance.now() + opts.timeoutMs);
      upAt = performance.now();
      log.info(`${slot} is healthy`, { machine: slot });
    },
    async write(record: SlotRecord) {
      await writeRecord(opts.recordPath, record);
    },
    stepStarted(next) {
      endStep();
      step = next;
      stepAt = performance.now();
      if (next === "stop-old") downFrom = stepAt;
      opts.logger.event({ level: "info", task: opts.task, msg: `${next} started` });
    },
    end: () => {
      endStep();
      step = undefined;
    },
    downtimeMs: () => (downFrom !== undefined && upAt !== undefined && upAt > downFrom ? upAt - downFrom : undefined),
  };
}
