// The host manifest (<host.root>/var/lib/kube-rootfs/host.json): every host file kube-rootfs
// wrote (with its sha256), the kernel values it set, the fstab lines it commented out, and every
// machine it provisioned. verify compares the host with it; reset undoes what it lists.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { removeQuietly, writeFileAtomic } from "../fs/atomic";
import { readJsonRecord } from "../fs/json-record";
import { withPidLock } from "../fs/pid-lock";
import { stableJSON } from "../stable-json";
import { z } from "../zod";

export const HOST_MANIFEST = "/var/lib/kube-rootfs/host.json";

const HostFileSchema = z.strictObject({ path: z.string(), sha256: z.string(), what: z.string() });
const SysctlSchema = z.strictObject({ key: z.string(), value: z.string(), rule: z.enum(["exact", "at-least"]) });
const FstabSchema = z.strictObject({ path: z.string(), backup: z.string(), lines: z.array(z.string()) });
const MachineSchema = z.strictObject({ name: z.string(), machineDir: z.string(), nspawnConfigFile: z.string(), serviceOverrideFile: z.string() });

const ManifestSchema = z.strictObject({
  schema: z.literal(1),
  /** by path inside the host root */
  files: z.array(HostFileSchema),
  /** the values the running kernel was given (for verify) */
  sysctls: z.array(SysctlSchema),
  fstab: z.nullable(FstabSchema),
  /** absolute paths as the goal named them */
  machines: z.array(MachineSchema),
});

export type HostManifest = z.infer<typeof ManifestSchema>;
export type HostFile = z.infer<typeof HostFileSchema>;
export type RecordedSysctl = z.infer<typeof SysctlSchema>;
export type FstabChange = z.infer<typeof FstabSchema>;
export type MachineEntry = z.infer<typeof MachineSchema>;

export const emptyManifest = (): HostManifest => ({ schema: 1, files: [], sysctls: [], fstab: null, machines: [] });

export const manifestPath = (root: string) => join(root, HOST_MANIFEST);

/** The manifest under `root`, or undefined when kube-rootfs never changed this host; an unreadable one is named. */
export const readHostManifest = (root: string): HostManifest | undefined =>
  readJsonRecord(manifestPath(root), ManifestSchema, "the host manifest", "it lists what kube-rootfs changed on the host");

/** Read, change and write back the manifest under its lock (provisions of two machines may run at once). */
export function updateHostManifest(root: string, change: (m: HostManifest) => HostManifest): Promise<void> {
  const path = manifestPath(root);
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  return withPidLock(`${path}.lock`, async () => {
    const next = change(readHostManifest(root) ?? emptyManifest());
    await writeFileAtomic(path, stableJSON(next));
  });
}

/** Remove the manifest (reset, once everything it lists is undone). */
export function removeHostManifest(root: string): Promise<void> {
  const path = manifestPath(root);
  if (!existsSync(path)) return Promise.resolve();
  return withPidLock(`${path}.lock`, async () => removeQuietly(path));
}

/** The machine's entry, replacing an earlier one of the same name. */
export const withMachine = (m: HostManifest, e: MachineEntry): HostManifest => ({ ...m, machines: [...m.machines.filter((x) => x.name !== e.name), e] });

/**
 * Record a machine in the manifest; one recorded just so (every re-run of its provision) is left
 * alone, without taking the lock or writing: a warm run writes nothing. The machine's own lock,
 * held by whoever records or removes it, keeps its entry from changing meanwhile.
 */
export async function recordMachine(root: string, e: MachineEntry): Promise<void> {
  const recorded = readHostManifest(root)?.machines.find((m) => m.name === e.name);
  if (recorded && stableJSON(recorded) === stableJSON(e)) return;
  await updateHostManifest(root, (m) => withMachine(m, e));
}

export const withoutMachine = (m: HostManifest, name: string): HostManifest => ({ ...m, machines: m.machines.filter((x) => x.name !== name) });

/** A host file's entry, replacing an earlier one at the same path. */
export const withFile = (m: HostManifest, f: HostFile): HostManifest => ({ ...m, files: [...m.files.filter((x) => x.path !== f.path), f] });
