import { defineCommand } from "./command";
import { EXIT } from "../errors";
import { rollback } from "../slots/update";
import { commonArgs, slotArgs, timeoutArg } from "./args";
import { DEFAULT_TIMEOUT_S, drainArgs, kubeconfigArg, logFormatArg, runUpdate } from "./slots";

const args = {
  ...logFormatArg,
  ...kubeconfigArg,
  ...commonArgs,
  ...slotArgs,
  ...timeoutArg(DEFAULT_TIMEOUT_S),
  ...drainArgs,
  "dry-run": { type: "boolean", description: "print the switch that would run; change nothing" },
} as const;

export const rollbackCommand = defineCommand({
  meta: { name: "rollback", description: "Switch the node back to the previous slot (untouched since it was the node), with the same health wait and fall-back" },
  args,
  async run({ args: parsed, rawArgs }) {
    await runUpdate(parsed, rawArgs, args, "rollback", (u) => `${u.active} is active (was ${u.previous})`, rollback);
    return EXIT.ok;
  },
});

export const rollbackUses = ["cluster.kubeconfig", "logFormat"];

export const rollbackExamples = ["kube-rootfs rollback", "kube-rootfs rollback --dry-run", "kube-rootfs rollback --kubeconfig /etc/kube-rootfs/node-updater.kubeconfig --drain-timeout 600", "kube-rootfs rollback --slots node-a,node-b --timeout 600"];
