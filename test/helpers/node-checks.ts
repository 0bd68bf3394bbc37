// The boot checks every provisioned machine must pass, run inside it once it is up.
import { expect } from "bun:test";
import type { Booted } from "./nspawn";

/**
 * The test mirror repacks this host's Debian containerd, so a goal names its version: the runtime
 * task writes the config schema of the version being installed (1.6: version 2).
 */
export function hostContainerdVersion(binary = "containerd"): string {
  const out = Bun.spawnSync([binary, "--version"]).stdout.toString();
  const v = / (\d+\.\d+\.\d+)/.exec(out)?.[1];
  if (!v) throw new Error(`${binary} --version: no version in ${JSON.stringify(out)}`);
  return v;
}

/** Debian trixie's containerd 1.7, which has CDI, as scripts/setup.sh unpacks it (bookworm's 1.6 has none). */
export const CDI_CONTAINERD_DIR = "/var/cache/kube-rootfs-test/containerd-cdi/usr/bin";

/**
 * What a provisioned node must show once booted: systemd running with no failed unit, on cgroup
 * v2; resolved masked, the static resolv.conf, /dev/kmsg; runc and the CNI plugins; containerd
 * active from our unit and binary, the sandbox image imported; kubelet enabled and waiting for join material (or started).
 */
export async function checkNode(m: Booted, joined = false) {
  const state = await m.settled();
  const failed = (await m.exec(["systemctl", "--failed", "--no-legend", "--plain"])).stdout;
  if (state !== "running") console.log(`${m.name}: systemd is ${state}; failed units:\n${failed}\n${(await m.exec(["journalctl", "-b", "--no-pager", "-n", "80"])).stdout}`);
  expect(state).toBe("running");
  expect(failed.trim()).toBe("");
  // The override's SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 reached nspawn: the machine has cgroup v2.
  expect((await m.exec(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"])).stdout.trim()).toBe("cgroup2fs");
  expect((await m.exec(["systemctl", "is-enabled", "systemd-resolved.service"])).stdout.trim()).toBe("masked");
  expect((await m.exec(["cat", "/etc/resolv.conf"])).stdout).toContain("by kube-rootfs");
  expect((await m.exec(["readlink", "/dev/kmsg"])).stdout.trim()).toBe("/dev/console");
  const runc = await m.exec(["/usr/local/bin/runc", "--version"]);
  expect(runc.code).toBe(0);
  expect(runc.stdout).toContain("runc version");
  expect((await m.exec(["test", "-x", "/opt/cni/bin/bridge"])).code).toBe(0);

  // containerd: active, started by our unit, from the installed binary.
  expect((await m.exec(["systemctl", "is-active", "containerd.service"])).stdout.trim()).toBe("active");
  const show = (await m.exec(["systemctl", "show", "-p", "FragmentPath", "-p", "MainPID", "containerd.service"])).stdout;
  expect(show).toContain("FragmentPath=/etc/systemd/system/containerd.service\n");
  const pid = /MainPID=(\d+)/.exec(show)![1];
  expect((await m.exec(["readlink", `/proc/${pid}/exe`])).stdout.trim()).toBe("/usr/local/bin/containerd");
  // The sandbox image, always pre-loaded, was imported into kubelet's namespace at first boot.
  const sandbox = /sandbox(?:_image)? = "([^"]+)"/.exec((await m.exec(["cat", "/etc/containerd/config.toml"])).stdout)?.[1];
  expect(sandbox).toBeDefined();
  expect((await m.exec(["/usr/local/bin/ctr", "-n", "k8s.io", "images", "ls", "-q"])).stdout.split("\n")).toContain(sandbox!);

  // kubelet: enabled; without join material waiting (its condition unmet), not failed; with it,
  // started with our command line and running: the mirror's kubelet is a stand-in that names
  // itself and makes kubelet's start-up checks against the host and the machine.
  expect((await m.exec(["systemctl", "is-enabled", "kubelet.service"])).stdout.trim()).toBe("enabled");
  const kubelet = (await m.exec(["systemctl", "show", "-p", "ActiveState", "-p", "ConditionResult", "kubelet.service"])).stdout;
  if (!joined) {
    expect(kubelet).toContain("ActiveState=inactive\n");
    expect(kubelet).toContain("ConditionResult=no\n");
    return;
  }
  expect(kubelet).toContain("ConditionResult=yes\n");
  expect((await m.exec(["stat", "-c", "%a", "/etc/kubernetes/bootstrap-kubelet.conf"])).stdout.trim()).toBe("600");
  await kubeletStaysUp(m);
}

/** kubelet.service as the machine's own systemd shows it. */
async function kubeletUnit(m: Booted): Promise<Record<string, string>> {
  const out = (await m.exec(["systemctl", "show", "-p", "ActiveState", "-p", "SubState", "-p", "MainPID", "-p", "NRestarts", "-p", "Result", "kubelet.service"])).stdout;
  return Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** kubelet's journal of this boot (a machine keeps its journal across boots). */
const kubeletJournal = async (m: Booted) => (await m.exec(["journalctl", "-b", "-u", "kubelet.service", "--no-pager", "-o", "cat"])).stdout;

/** How long kubelet must stay up: its checks take well under a second, its unit restarts it after 10 s. */
const STAYS_UP_MS = 6000;

/**
 * kubelet (the mirror's stand-in, held to kubelet's start-up checks) started, passed them and
 * keeps running: one process, active the whole time, never restarted.
 */
export async function kubeletStaysUp(m: Booted) {
  let journal = "";
  for (let i = 0; i < 60 && !journal.includes("kubelet stand-in v"); i++, await Bun.sleep(250)) journal = await kubeletJournal(m);
  expect(journal).toContain("kubelet stand-in v1.33.1");
  const first = await kubeletUnit(m);
  const seen = [first];
  for (const until = performance.now() + STAYS_UP_MS; performance.now() < until; await Bun.sleep(500)) seen.push(await kubeletUnit(m));
  const states = seen.map((u) => `${u.ActiveState}/${u.SubState} pid ${u.MainPID} restarts ${u.NRestarts}`);
  const want = seen.map(() => `active/running pid ${first.MainPID} restarts 0`);
  if (states.some((s, i) => s !== want[i])) console.log(`${m.name}: kubelet did not stay up:\n${states.join("\n")}\n${await kubeletJournal(m)}`);
  expect(states).toEqual(want);
  expect(Number(first.MainPID)).toBeGreaterThan(0);
  expect(await kubeletJournal(m)).toContain("kubelet stand-in: start-up checks passed; running");
}

/**
 * kubelet exits at start and systemd keeps restarting it (Restart=always, never a failed unit):
 * the unit waits to restart it, and the journal holds kubelet's error. Returns that journal.
 */
export async function kubeletCrashLoops(m: Booted): Promise<string> {
  let unit: Record<string, string> = {};
  for (let i = 0; i < 80; i++, await Bun.sleep(250)) {
    unit = await kubeletUnit(m);
    if (unit.SubState === "auto-restart") break;
  }
  expect(unit).toMatchObject({ ActiveState: "activating", SubState: "auto-restart", Result: "exit-code" });
  const journal = await kubeletJournal(m);
  expect(journal).not.toContain("start-up checks passed");
  return journal;
}
