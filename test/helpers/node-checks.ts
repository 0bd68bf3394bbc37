// The boot checks every provisioned machine must pass, run inside it once it is up.
import { expect } from "bun:test";
import type { Booted } from "./nspawn";

/** What a provisioned node must show once booted: systemd up, resolved masked, the static
 * resolv.conf, /dev/kmsg, and containerd, runc and the CNI plugins in place. */
export async function checkNode(m: Booted) {
  const state = await m.settled();
  if (state !== "running") {
    const failed = await m.exec(["systemctl", "--failed", "--no-legend", "--plain"]);
    console.log(`${m.name}: systemd is ${state}; failed units:\n${failed.stdout}`);
  }
  expect(["running", "degraded"]).toContain(state);
  expect((await m.exec(["systemctl", "is-enabled", "systemd-resolved.service"])).stdout.trim()).toBe("masked");
  expect((await m.exec(["cat", "/etc/resolv.conf"])).stdout).toContain("by kube-rootfs");
  expect((await m.exec(["readlink", "/dev/kmsg"])).stdout.trim()).toBe("/dev/console");
  const containerd = await m.exec(["/usr/local/bin/containerd", "--version"]);
  expect(containerd.code).toBe(0);
  expect(containerd.stdout).toContain("containerd");
  const runc = await m.exec(["/usr/local/bin/runc", "--version"]);
  expect(runc.code).toBe(0);
  expect(runc.stdout).toContain("runc version");
  expect((await m.exec(["test", "-x", "/opt/cni/bin/bridge"])).code).toBe(0);
}
