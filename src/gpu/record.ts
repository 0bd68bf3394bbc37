// What GPU support bound, as the saved goal's result keeps it (its shape is config/saved.ts's
// GpuRecord), and how the host differs from it now: a driver upgrade that changed the device
// nodes or the driver's files is drift.
import { join } from "node:path";
import type { ResolvedGpu } from "../config/resolve";
import type { GpuRecord } from "../config/saved";
import type { Drift } from "../fs/drift";
import type { GpuDevice } from "../host/nvidia";
import { gpuBinds } from "./binds";

export function gpuRecord(gpu: ResolvedGpu): GpuRecord | undefined {
  const binds = gpuBinds(gpu);
  if (!binds) return undefined;
  return { devices: binds.devices.map(({ path, major, minor }) => ({ path, major, minor })), files: binds.files.map((f) => f.path) };
}

const numbers = (d: GpuDevice) => `char ${d.major}:${d.minor}`;

/** Each device node and driver file that changed on the host since `recorded` was bound. */
export function gpuDrift(gpu: ResolvedGpu, recorded: GpuRecord | undefined): Drift[] {
  const now = gpuRecord(gpu) ?? { devices: [], files: [] };
  const was = recorded ?? { devices: [], files: [] };
  const onHost = (path: string) => join(gpu.hostRoot, path);
  const drifts: Drift[] = [];
  const nowDevices = new Map(now.devices.map((d) => [d.path, d]));
  for (const d of was.devices) {
    const found = nowDevices.get(d.path);
    if (!found) drifts.push({ path: onHost(d.path), expected: `${numbers(d)}, bound by the last provision`, found: "missing on the host" });
    else if (numbers(found) !== numbers(d)) drifts.push({ path: onHost(d.path), expected: `${numbers(d)}, bound by the last provision`, found: numbers(found) });
  }
  const wasDevices = new Set(was.devices.map((d) => d.path));
  for (const d of now.devices) {
    if (!wasDevices.has(d.path)) drifts.push({ path: onHost(d.path), expected: "not bound (absent at the last provision)", found: `${numbers(d)} on the host` });
  }
  const nowFiles = new Set(now.files);
  const wasFiles = new Set(was.files);
  for (const f of was.files) {
    if (!nowFiles.has(f)) drifts.push({ path: onHost(f), expected: "bound read-only by the last provision", found: "no longer in the host's driver" });
  }
  for (const f of now.files) {
    if (!wasFiles.has(f)) drifts.push({ path: onHost(f), expected: "not bound (absent at the last provision)", found: "in the host's driver now" });
  }
  return drifts;
}
