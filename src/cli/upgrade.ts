import { defineCommand } from "./command";
import { EXIT } from "../errors";
import { nextGoal } from "../slots/goals";
import { upgrade, type Updated } from "../slots/update";
import { commonArgs, givenGoalFlags, slotArgs, timeoutArg } from "./args";
import { DEFAULT_TIMEOUT_S, drainArgs, refuseMachineFlags, runUpdate, slotGoalArgs } from "./slots";

const args = {
  ...slotGoalArgs,
  ...commonArgs,
  ...slotArgs,
  ...timeoutArg(DEFAULT_TIMEOUT_S),
  ...drainArgs,
  "dry-run": { type: "boolean", description: "print the plan (which slot, its goal and downloads, what is carried, the switch's steps, the cluster's: cordon, the pods a drain would evict now, the Ready gate); change nothing" },
  switch: { type: "boolean", default: true, description: "switch the node to the new slot; --no-switch provisions the idle slot and carries the identity in, but does not switch (works without the host's systemd)" },
} as const;

export const upgradeCommand = defineCommand({
  meta: { name: "upgrade", description: "Provision the idle slot with the active slot's goal and the changes given, then switch the node to it (falls back on failure)" },
  args,
  async run({ args: parsed, rawArgs }) {
    refuseMachineFlags("upgrade", rawArgs);
    const flags = givenGoalFlags(parsed, rawArgs);
    const run = { configFile: typeof parsed.config === "string" ? parsed.config : undefined, env: process.env, flags };
    const noSwitch = parsed.switch === false;
    const said = (u: Updated) => (noSwitch ? `${u.active} stays active; the idle slot is provisioned (no switch)` : `${u.active} is active (was ${u.previous})`);
    await runUpdate(parsed, rawArgs, args, "upgrade", said, (o) => upgrade(o, (active, idle) => nextGoal(active, idle, run), noSwitch));
    return EXIT.ok;
  },
});

export const upgradeExamples = [
  "kube-rootfs upgrade --kubernetes-version 1.34.0",
  "kube-rootfs upgrade --kubernetes-version 1.34.0 --dry-run",
  "kube-rootfs upgrade --kubernetes-version 1.34.0 --kubeconfig /etc/kube-rootfs/node-updater.kubeconfig --drain-timeout 600",
  "kube-rootfs upgrade --bootstrap-method image --bootstrap-image registry.internal/kube-rootfs/bookworm:2026-12 && kube-rootfs status",
  "kube-rootfs upgrade --containerd-version 2.0.5 --no-switch",
];
