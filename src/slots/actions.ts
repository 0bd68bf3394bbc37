// The switch's actions on real machines, through the host's systemd (machine/), with the time
// each step began: the node's downtime runs from the old slot's poweroff to the new one healthy.
// With KUBE_ROOTFS_TIMINGS the way forward is marked stage by stage (the old slot down, then
// disabled, the identity carried, the new unit started, its systemd up, containerd active, the
// node healthy); a fall-back's own stop and start are not.
import type { Resolved } from "../config/resolve";
import type { Logger } from "../engine/log";
import { taskLog } from "../engine/log";
import { mark } from "../engine/timings";
import { startMachine } from "../machine/start";
import { poweroffTimeoutMs, stopMachine } from "../machine/stop";
import { carryIdentity } from "./carry";
import { waitHealthy } from "./health";
import { writeRecord, type SlotRecord, type Step } from "./record";
import type { SlotActions } from "./switch";

export interface MachineActions extends SlotActions {
  /** ms from the old slot's poweroff to the new slot's health, once both happened */
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
  /** A stage of the switch's way forward ends (a fall-back is no part of it). */
  const forward = (stage: string) => step !== "fall-back" && mark(stage);
  return {
    async stop(slot) {
      const goal = opts.goalOf(slot);
      const how = await stopMachine(goal, poweroffTimeoutMs(goal), log, (stage) => {
        if (stage === "disabled") {
          // The node runs until its poweroff is asked for: its downtime starts there.
          if (step === "stop-old") downFrom = performance.now();
          forward("old slot disabled");
        } else forward("old slot down");
      });
      log.info(`${slot} ${how}; disabled`, { machine: slot, result: how });
    },
    async carry(from, to) {
      const carried = carryIdentity(opts.goalOf(from).machineDir, opts.goalOf(to).machineDir);
      forward("identity carried");
      log.info(`carried the node's identity from ${from} to ${to}`, { carried });
    },
    async start(slot) {
      deadline = performance.now() + opts.timeoutMs;
      const s = await startMachine(opts.goalOf(slot), opts.timeoutMs, log, (stage) => forward(stage));
      forward("containerd active");
      log.info(`${slot} is up: systemd ${s.system}, containerd active`, { machine: slot, system: s.system, failed: s.failed });
    },
    async healthy(slot) {
      await waitHealthy(opts.goalOf(slot), deadline || performance.now() + opts.timeoutMs);
      upAt = performance.now();
      forward("healthy");
      log.info(`${slot} is healthy`, { machine: slot });
    },
    async write(record: SlotRecord) {
      await writeRecord(opts.recordPath, record);
    },
    stepStarted(next) {
      endStep();
      // The cluster's steps after the health are marked as they end; the switch as it begins.
      if (step === "ready" || step === "uncordon") forward(step);
      if (next === "stop-old") forward("switch");
      step = next;
      stepAt = performance.now();
      opts.logger.event({ level: "info", task: opts.task, msg: `${next} started` });
    },
    end: () => {
      endStep();
      step = undefined;
    },
    downtimeMs: () => (downFrom !== undefined && upAt !== undefined && upAt > downFrom ? upAt - downFrom : undefined),
  };
}
