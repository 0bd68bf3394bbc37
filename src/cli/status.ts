import { defineCommand } from "./command";
import { EXIT } from "../errors";
import { DEFAULT_RECORD } from "../slots/record";
import { hostStatus } from "../slots/status";
import { parseSlots } from "../slots/which";
import { commonArgs, slotArgs } from "./args";
import { setup } from "./goal";
import { settleInterruptedDrain } from "../slots/update";
import { DEFAULT_TIMEOUT_S, kubeconfigArg, kubeconfigOf, logFormatArg } from "./slots";

const args = { ...logFormatArg, ...kubeconfigArg, ...commonArgs, ...slotArgs } as const;

export const statusCommand = defineCommand({
  meta: {
    name: "status",
    description: "Show both slots (which is the node, running, versions, base, drift), the node's health and, with cluster credentials, the cluster's view of it; exit 0 only when the node runs, is healthy and the cluster agrees",
  },
  args,
  async run({ args: parsed, rawArgs }) {
    const { logger } = await setup(parsed, rawArgs, args);
    const slots = parseSlots(parsed.slots);
    const recordPath = parsed.record ?? DEFAULT_RECORD;
    const kubeconfig = kubeconfigOf(parsed);
    await settleInterruptedDrain({ slots, recordPath, kubeconfig, logger, signal: new AbortController().signal, timeoutMs: DEFAULT_TIMEOUT_S * 1000 });
    const s = await hostStatus(slots, recordPath, kubeconfig);
    if (logger.format !== "json") {
      for (const slot of s.slots) {
        const state = !slot.exists ? "not provisioned" : `${slot.running ? "running" : "stopped"}, ${slot.enabled ? "enabled" : "disabled"}`;
        const what = slot.exists ? `, kubernetes ${slot.kubernetes}, containerd ${slot.containerd}, runc ${slot.runc}, cni ${slot.cni}, ${slot.base}, ${slot.drift === undefined ? `verify failed: ${slot.driftError}` : `${slot.drift} drift(s)`}` : "";
        logger.event({ level: "info", task: "status", msg: `${slot.name}${slot.active ? " (active)" : ""}: ${state}${what}` });
      }
      const c = s.cluster;
      if (c?.seen) {
        const n = c.seen;
        logger.event({ level: "info", task: "status", msg: `node ${c.node} in the cluster: Ready=${n.ready} since ${n.readySince ?? "?"}, kubelet ${n.kubeletVersion}, ${n.unschedulable ? "cordoned" : "schedulable"}, last heartbeat ${n.heartbeat ?? "never"}` });
      } else if (c) {
        logger.event({ level: "warn", task: "status", msg: `node ${c.node} in the cluster: ${c.error}` });
      }
    }
    const msg = s.healthy ? `${s.active} is the node and healthy` : `not healthy: ${s.why}`;
    logger.event({ level: s.healthy ? "info" : "warn", task: "status", msg, fields: { active: s.active, previous: s.previous, switch: s.switch, healthy: s.healthy, slots: s.slots, ...(s.cluster ? { cluster: s.cluster } : {}) } });
    return s.healthy ? EXIT.ok : EXIT.failed;
  },
});

export const statusUses = ["cluster.kubeconfig", "logFormat"];

export const statusExamples = ["kube-rootfs status", "kube-rootfs status --log-format json", "kube-rootfs upgrade --kubernetes-version 1.34.0 && kube-rootfs status"];
