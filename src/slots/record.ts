// The host's slot record: which machine is the node now, which one an update can go back to, and
// a switch in progress with the step it reached. Each step is recorded before it starts, so a run
// killed anywhere leaves a record that says what the next run must finish or undo.
import { writeFileAtomic } from "../fs/atomic";
import { readJsonRecord } from "../fs/json-record";
import { stableJSON } from "../stable-json";
import { z } from "../zod";

export const DEFAULT_RECORD = "/var/lib/kube-rootfs/slots.json";

/**
 * The switch's steps, in order; `fall-back` replaces the rest once one of them failed. cordon,
 * drain, ready and uncordon are the cluster's, taken when the node has cluster credentials.
 */
export const STEPS = ["provision", "cordon", "drain", "stop-old", "start-new", "health", "ready", "uncordon", "record", "fall-back"] as const;
export type Step = (typeof STEPS)[number];

/** The node in the cluster, as the switch found and left it. */
const SwitchClusterSchema = z.strictObject({
  node: z.string(),
  /** spec.unschedulable before the switch: an operator's cordon, which the switch keeps */
  wasUnschedulable: z.boolean(),
});
export type SwitchCluster = z.infer<typeof SwitchClusterSchema>;

const SwitchSchema = z.strictObject({
  kind: z.enum(["upgrade", "rollback"]),
  from: z.string(),
  to: z.string(),
  step: z.enum(STEPS),
  at: z.string(),
  /** set once the switch is about to cordon: this run's cordon is undone, an operator's is kept */
  cluster: z.optional(SwitchClusterSchema),
});
export type Switch = z.infer<typeof SwitchSchema>;

const RecordSchema = z.strictObject({
  schema: z.literal(1),
  active: z.string(),
  previous: z.nullable(z.string()),
  switch: z.nullable(SwitchSchema),
  /** the idle slot, provisioned by an upgrade that did not switch (--no-switch, or a drain that timed out): the next upgrade to the same goal reuses it */
  staged: z.optional(z.string()),
});
export type SlotRecord = z.infer<typeof RecordSchema>;

/** The record at `path`, or undefined when there is none yet; an unreadable one is named. */
export const readRecord = (path: string): SlotRecord | undefined => readJsonRecord(path, RecordSchema, "the slot record", "it names the active slot");

export async function writeRecord(path: string, record: SlotRecord): Promise<void> {
  await writeFileAtomic(path, stableJSON(record));
}

export const settled = (active: string, previous: string | null): SlotRecord => ({ schema: 1, active, previous, switch: null });
