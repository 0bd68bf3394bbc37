// The slot record, which slot is the node, the identity carried, and the health verdict.
import { describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { carryIdentity } from "../../src/slots/carry";
import { judge, type NodeFacts } from "../../src/slots/health";
import { readRecord, settled, writeRecord } from "../../src/slots/record";
import { activeSlot, parseSlots } from "../../src/slots/which";
import { tempDir } from "../helpers/tmp";

const SLOTS = ["kube1", "kube2"] as const;
const facts = (exist: string[], run: string[] = []) => ({ exists: (s: string) => exist.includes(s), running: (s: string) => run.includes(s) });

describe("which slot is the node", () => {
  test("the record says; without one the only slot there, or the one that runs", () => {
    expect(activeSlot(settled("kube2", "kube1"), SLOTS, facts([]), "/r")).toBe("kube2");
    expect(activeSlot(undefined, SLOTS, facts(["kube2"]), "/r")).toBe("kube2");
    expect(activeSlot(undefined, SLOTS, facts(["kube1", "kube2"], ["kube1"]), "/r")).toBe("kube1");
  });
  test("no slot, two slots and no telling which, or a record naming another machine: a usage error", () => {
    expect(() => activeSlot(undefined, SLOTS, facts([]), "/r")).toThrow("no slot is provisioned (kube1, kube2): run kube-rootfs provision --machine kube1 first");
    expect(() => activeSlot(undefined, SLOTS, facts(SLOTS.slice(), []), "/r")).toThrow("both kube1 and kube2 exist, neither runs and /r does not say which is the node");
    expect(() => activeSlot(undefined, SLOTS, facts(SLOTS.slice(), SLOTS.slice()), "/r")).toThrow("both run");
    expect(() => activeSlot(settled("kube9", null), SLOTS, facts([]), "/r")).toThrow("/r names kube9 active, which is not one of --slots kube1,kube2");
  });
  test("--slots takes two different machine names", () => {
    expect(parseSlots(undefined)).toEqual(["kube1", "kube2"]);
    expect(parseSlots("a,b")).toEqual(["a", "b"]);
    for (const bad of ["a", "a,a", "a,b,c", "a,", "a,../b"]) expect(() => parseSlots(bad)).toThrow(`--slots: expected two different machine names, a,b (default kube1,kube2), got ${bad}`);
  });
});

describe("the record", () => {
  test("written and read back; absent is undefined", async () => {
    const path = join(tempDir("record"), "slots.json");
    expect(readRecord(path)).toBeUndefined();
    const rec = { ...settled("kube1", null), switch: { kind: "upgrade" as const, from: "kube1", to: "kube2", step: "health" as const, at: "2026-12-03T00:00:00.000Z" } };
    await writeRecord(path, rec);
    expect(readRecord(path)).toEqual(rec);
  });
  test("not JSON, or a field wrong: the file and the field are named", () => {
    const dir = tempDir("record");
    writeFileSync(join(dir, "a.json"), "{");
    expect(() => readRecord(join(dir, "a.json"))).toThrow(`${dir}/a.json: the slot record is not JSON; fix or remove it (it names the active slot)`);
    writeFileSync(join(dir, "b.json"), JSON.stringify({ ...settled("kube1", null), switch: { kind: "upgrade", from: "kube1", to: "kube2", step: "dance", at: "x" } }));
    expect(() => readRecord(join(dir, "b.json"))).toThrow(
      `${dir}/b.json: the slot record's switch.step is invalid: Invalid option: expected one of "provision"|"cordon"|"drain"|"stop-old"|"start-new"|"health"|"ready"|"uncordon"|"record"|"fall-back"`,
    );
  });
});

describe("the identity carried", () => {
  function rootfs(dir: string, files: Record<string, string>) {
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(join(dir, rel, ".."), { recursive: true });
      writeFileSync(join(dir, rel), content);
    }
  }

  test("kubelet's pki (links as links), its kubeconfig and the machine id replace the new slot's; join material only where the new slot has none", () => {
    const t = tempDir("carry");
    const [from, to] = [join(t, "a"), join(t, "b")];
    rootfs(from, {
      "var/lib/kubelet/pki/kubelet-client-1.pem": "old cert",
      "etc/kubernetes/kubelet.conf": "kubeconfig",
      "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
      "etc/kubernetes/bootstrap-kubelet.conf": "old token",
      "etc/kubernetes/pki/ca.crt": "old ca",
      "etc/kubernetes/other.conf": "not carried",
    });
    symlinkSync("/var/lib/kubelet/pki/kubelet-client-1.pem", join(from, "var/lib/kubelet/pki/kubelet-client-current.pem"));
    rootfs(to, { "var/lib/kubelet/pki/stale.pem": "from the new slot's image", "etc/machine-id": "", "etc/kubernetes/bootstrap-kubelet.conf": "new token" });

    expect(carryIdentity(from, to)).toEqual(["var/lib/kubelet/pki", "etc/kubernetes/kubelet.conf", "etc/machine-id", "etc/kubernetes/pki/ca.crt"]);
    expect(readFileSync(join(to, "var/lib/kubelet/pki/kubelet-client-1.pem"), "utf8")).toBe("old cert");
    expect(readlinkSync(join(to, "var/lib/kubelet/pki/kubelet-client-current.pem"))).toBe("/var/lib/kubelet/pki/kubelet-client-1.pem");
    expect(lstatSync(join(to, "var/lib/kubelet/pki/stale.pem"), { throwIfNoEntry: false })).toBeUndefined();
    expect(readFileSync(join(to, "etc/machine-id"), "utf8")).toBe("0123456789abcdef0123456789abcdef\n");
    expect(readFileSync(join(to, "etc/kubernetes/bootstrap-kubelet.conf"), "utf8")).toBe("new token");
    expect(readFileSync(join(to, "etc/kubernetes/pki/ca.crt"), "utf8")).toBe("old ca");
    expect(lstatSync(join(to, "etc/kubernetes/other.conf"), { throwIfNoEntry: false })).toBeUndefined();
  });

  test("a machine id still to be made at boot, and a node that never joined, carry nothing", () => {
    const t = tempDir("carry");
    rootfs(join(t, "a"), { "etc/machine-id": "uninitialized\n" });
    rootfs(join(t, "b"), {});
    expect(carryIdentity(join(t, "a"), join(t, "b"))).toEqual([]);
  });
});

describe("health", () => {
  const unit = (active: string, result = "success", load = "loaded") => ({ load, active, result });
  const up: NodeFacts = { system: "running", failed: [], containerd: unit("active") };

  test("a running system with containerd active is a node; kubelet counts once join material is there, the images once pre-loaded", () => {
    expect(judge(up)).toEqual({ healthy: true });
    expect(judge({ ...up, kubelet: unit("active"), images: { unit: unit("inactive"), imported: true } })).toEqual({ healthy: true });
    expect(judge({ ...up, system: "degraded", failed: ["systemd-remount-fs.service"] })).toEqual({ healthy: true });
  });

  test("not yet: booting, containerd or kubelet on their way, images importing", () => {
    expect(judge({ ...up, system: "starting" })).toEqual({ healthy: false, fatal: false, why: "its systemd is starting" });
    expect(judge({ ...up, containerd: unit("activating") })).toEqual({ healthy: false, fatal: false, why: "containerd.service is activating" });
    expect(judge({ ...up, kubelet: unit("activating", "exit-code") })).toEqual({ healthy: false, fatal: false, why: "kubelet.service is activating" });
    expect(judge({ ...up, images: { unit: unit("activating"), imported: false } })).toEqual({ healthy: false, fatal: false, why: "the pre-loaded images are being imported" });
  });

  test("broken: a unit failed, containerd missing or failed, the import failed", () => {
    expect(judge({ ...up, system: "degraded", failed: ["mc-fail.service", "systemd-remount-fs.service"] })).toEqual({ healthy: false, fatal: true, why: "units failed inside: mc-fail.service" });
    expect(judge({ ...up, containerd: unit("inactive", "success", "not-found") })).toEqual({ healthy: false, fatal: true, why: "containerd.service is not installed" });
    expect(judge({ ...up, containerd: unit("failed", "exit-code") })).toEqual({ healthy: false, fatal: true, why: "containerd.service failed (exit-code)" });
    expect(judge({ ...up, kubelet: { ...unit("activating", "exit-code"), looping: true } })).toEqual({ healthy: false, fatal: true, why: "kubelet.service keeps exiting (exit-code)" });
    expect(judge({ ...up, images: { unit: unit("failed", "exit-code"), imported: false } })).toEqual({
      healthy: false, fatal: true, why: "the pre-loaded images were not imported (kube-rootfs-images.service failed, exit-code)",
    });
  });
});
