// Drop-in for systemd-nspawn@<machine>.service: restart forever, and the device access the
// .nspawn binds need.
import type { GpuDevice } from "../../host/nvidia";

export interface OverrideInput {
  machine: string;
  hostDevices: string[];
  gpuDevices: GpuDevice[];
}

export function renderServiceOverride(i: OverrideInput): string {
  return [
    `# ${i.machine}: written by kube-rootfs; changes are replaced on the next provision.`,
    "[Unit]",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    // A machine left registered by a crash would block the next start.
    `ExecStartPre=-/usr/bin/machinectl terminate ${i.machine}`,
    "Restart=on-failure",
    "RestartSec=10s",
    "Environment=SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1",
    "Environment=SYSTEMD_NSPAWN_API_VFS_WRITABLE=network",
    ...i.hostDevices.map((d) => `DeviceAllow=${d} rwm`),
    // By the numbers read at provision time: systemd takes /dev/char/MAJOR:MINOR as they are,
    // so a node the driver made anew under other numbers is drift, not silently allowed.
    ...i.gpuDevices.map((d) => `DeviceAllow=/dev/char/${d.major}:${d.minor} rwm`),
    "",
  ].join("\n");
}
