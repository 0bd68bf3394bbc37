// When a started machine is a working node: its systemd up (degraded only by units that fail in
// any container), containerd active, kubelet active once it has join material, and the
// pre-loaded images imported. Read through the host's systemd and from the rootfs itself.
import { existsSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import { RunError } from "../errors";
import { resolveInside } from "../fs/inside";
import { crashLooping, failedUnitsOf, parseShow, run, systemd, until } from "../machine/systemd";
import { readImagesRecord } from "../runtime/images";
import { IMAGES_UNIT, importStamp } from "../runtime/templates/images";
import { BOOTSTRAP_KUBECONFIG, KUBECONFIG } from "../runtime/templates/kubelet";
import { hostRel } from "../fs/target";

/** Units that fail in a systemd-nspawn container by design; docs/updating.md lists them. */
export const EXPECTED_FAILED = [
  "systemd-remount-fs.service", // the container cannot remount its root as /etc/fstab says
  "systemd-journald-audit.socket", // a container's network namespace has no audit netlink socket
];

interface Unit {
  load: string;
  active: string;
  result: string;
  /** a unit that keeps exiting under Restart= (see crashLooping) */
  looping?: boolean;
}

/** What a poll saw of the machine. */
export interface NodeFacts {
  /** systemctl is-system-running */
  system: string;
  failed: string[];
  containerd: Unit;
  /** only when the rootfs has join material */
  kubelet?: Unit;
  /** only when the goal pre-loads images */
  images?: { unit: Unit; imported: boolean };
}

export type Verdict = { healthy: true } | { healthy: false; fatal: boolean; why: string };

const waiting = (why: string): Verdict => ({ healthy: false, fatal: false, why });
const broken = (why: string): Verdict => ({ healthy: false, fatal: true, why });

/** The verdict on one poll: healthy, not yet (wait), or broken (stop waiting). */
export function judge(f: NodeFacts): Verdict {
  if (f.system === "degraded") {
    const unexpected = f.failed.filter((u) => !EXPECTED_FAILED.includes(u));
    if (unexpected.length) return broken(`units failed inside: ${unexpected.join(", ")}`);
  } else if (f.system !== "running") {
    return waiting(`its systemd is ${f.system || "not answering"}`);
  }
  const service = (name: string, u: Unit): Verdict | undefined => {
    if (u.load === "not-found") return broken(`${name} is not installed`);
    if (u.active === "failed") return broken(`${name} failed (${u.result})`);
    if (u.looping) return broken(`${name} keeps exiting (${u.result})`);
    return u.active === "active" ? undefined : waiting(`${name} is ${u.active}`);
  };
  const containerd = service("containerd.service", f.containerd);
  if (containerd) return containerd;
  if (f.kubelet) {
    const kubelet = service("kubelet.service", f.kubelet);
    if (kubelet) return kubelet;
  }
  if (f.images && !f.images.imported) {
    const u = f.images.unit;
    if (u.active === "failed" || (u.active === "inactive" && u.result !== "success")) return broken(`the pre-loaded images were not imported (${IMAGES_UNIT} ${u.active}, ${u.result})`);
    return waiting("the pre-loaded images are being imported");
  }
  return { healthy: true };
}

/** kubelet is expected to run once either kubeconfig is there (its unit's condition). */
export const hasJoinMaterial = (machineDir: string) => [KUBECONFIG, BOOTSTRAP_KUBECONFIG].some((p) => existsSync(resolveInside(machineDir, hostRel(p))));

async function unit(machine: string, name: string): Promise<Unit> {
  const s = parseShow((await run(systemd.serviceState(machine, name))).stdout);
  return { load: s.LoadState ?? "", active: s.ActiveState ?? "unknown", result: s.Result ?? "", looping: crashLooping(s) };
}

/** One look at the machine; its questions asked at once (each is a tool run through the machine's bus), not one after the other. */
async function observe(goal: Resolved): Promise<NodeFacts> {
  const m = goal.machine;
  const archives = (readImagesRecord(goal.machineDir) ?? []).map((e) => e.archive);
  const [said, containerd, kubelet, images] = await Promise.all([
    run(systemd.systemState(m)),
    unit(m, "containerd.service"),
    hasJoinMaterial(goal.machineDir) ? unit(m, "kubelet.service") : undefined,
    archives.length ? unit(m, IMAGES_UNIT) : undefined,
  ]);
  const system = said.stdout.split("\n")[0] ?? "";
  const failed = system === "degraded" ? await failedUnitsOf(m) : [];
  const facts: NodeFacts = { system, failed, containerd };
  if (kubelet) facts.kubelet = kubelet;
  if (images) facts.images = { unit: images, imported: existsSync(resolveInside(goal.machineDir, hostRel(importStamp(archives)))) };
  return facts;
}

/** Wait until the machine is a healthy node; fail at once when it cannot become one. */
export async function waitHealthy(goal: Resolved, deadline: number): Promise<void> {
  let last: Verdict = waiting("no answer yet");
  const ok = await until(deadline, async () => {
    last = judge(await observe(goal));
    if (!last.healthy && last.fatal) throw new RunError(`${goal.machine} is not healthy: ${last.why}`);
    return last.healthy || undefined;
  });
  if (!ok) throw new RunError(`${goal.machine} did not become healthy in time: ${(last as { why: string }).why}`);
}

/** One look: healthy now or not, and why not (for status). */
export async function healthNow(goal: Resolved): Promise<Verdict> {
  return judge(await observe(goal));
}
