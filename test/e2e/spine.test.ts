// The compiled binary, end to end, for everything that writes configuration: a provision into
// a temp dir writes every file, a second run writes none, render prints the nspawn files, a bad
// config exits 2 before touching anything.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, events, run } from "../helpers/binary";
import { sandboxImageArgs } from "../helpers/sandbox-registry";

let bin: string;
let dir: string;
let args: string[];
const paths = () => ({
  root: join(dir, "kube7"),
  nspawn: join(dir, "nspawn/kube7.nspawn"),
  override: join(dir, "system/systemd-nspawn@kube7.service.d/override.conf"),
});

beforeAll(async () => {
  bin = await compiledBinary();
  dir = mkdtempSync(join(tmpdir(), "kube-rootfs-spine-"));
  writeFileSync(join(dir, "resolv.conf"), "nameserver 192.0.2.53\nsearch example.internal\n");
  const p = paths();
  args = [
    "provision", "--machine", "kube7", "--machine-dir", p.root, "--nspawn-config-file", p.nspawn,
    "--service-override-file", p.override, "--bootstrap-method", "none", "--skip-phases", "kube,cri,cni",
    "--hostname", "node-7", "--host-resolv-conf", join(dir, "resolv.conf"), "--bootstrap-suite", "noble", ...(await sandboxImageArgs()),
  ];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("provision with --bootstrap-method none", () => {
  test("--dry-run plans every write and changes nothing", async () => {
    const r = await run([bin, ...args, "--dry-run"]);
    expect(r.code).toBe(0);
    const planned = events(r.stdout).filter((e) => e.msg === "would write").map((e) => e.fields!.path);
    expect(planned).toContain(paths().nspawn);
    expect(planned).toContain(join(paths().root, "etc/resolv.conf"));
    expect(planned).toContain(join(paths().root, "etc/containerd/config.toml"));
    expect(planned).toContain(join(paths().root, "etc/systemd/system/multi-user.target.wants/containerd.service"));
    expect(existsSync(paths().root)).toBe(false);
    expect(existsSync(paths().nspawn)).toBe(false);
  });

  test("writes every file", async () => {
    const r = await run([bin, ...args]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const { root, nspawn, override } = paths();
    expect(readFileSync(nspawn, "utf8")).toContain("SystemCallFilter=@keyring bpf");
    expect(readFileSync(override, "utf8")).toContain("ExecStartPre=-/usr/bin/machinectl terminate kube7");
    expect(readFileSync(join(root, "etc/tmpfiles.d/kmsg.conf"), "utf8")).toBe("L /dev/kmsg - - - - /dev/console\n");
    expect(readFileSync(join(root, "etc/modules-load.d/kubernetes.conf"), "utf8")).toBe("overlay\nbr_netfilter\n");
    expect(readFileSync(join(root, "etc/apt/sources.list"), "utf8")).toContain(" noble-security ");
    expect(readFileSync(join(root, "etc/hostname"), "utf8")).toBe("node-7\n");
    expect(readlinkSync(join(root, "etc/systemd/system/systemd-resolved.service"))).toBe("/dev/null");
    expect(lstatSync(join(root, "etc/resolv.conf")).isFile()).toBe(true);
    expect(readFileSync(join(root, "etc/resolv.conf"), "utf8")).toContain("nameserver 192.0.2.53\n");
    // The default containerd is 2.x: config version 3.
    expect(readFileSync(join(root, "etc/containerd/config.toml"), "utf8")).toContain("\nversion = 3\n");
    expect(readlinkSync(join(root, "etc/systemd/system/multi-user.target.wants/kubelet.service"))).toBe("/etc/systemd/system/kubelet.service");
    const ev = events(r.stdout);
    for (const task of ["ensure-workspace", "configure-os", "disable-resolved", "runtime"]) {
      expect(ev.find((e) => e.task === task && e.msg === "completed")).toBeDefined();
    }
    expect(ev.at(-1)).toMatchObject({ msg: "done", fields: { machine: "kube7", outcome: "changed", exitCode: 0 } });
  });

  test("a second run writes nothing", async () => {
    const file = join(paths().root, "etc/hostname");
    const before = statSync(file).mtimeMs;
    const r = await run([bin, ...args]);
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    expect(ev.filter((e) => e.msg === "wrote")).toEqual([]);
    expect(ev.at(-1)).toMatchObject({ msg: "done", fields: { outcome: "up-to-date", exitCode: 0 } });
    for (const task of ["ensure-workspace", "configure-os", "disable-resolved", "runtime"]) {
      expect(ev.find((e) => e.task === task)?.msg).toBe("started");
      expect(ev.filter((e) => e.task === task).at(-1)?.msg).toBe("skipped");
    }
    expect(statSync(file).mtimeMs).toBe(before);
  });

  test("verify is clean after provision, and names each drift with exit 3", async () => {
    const verify = ["verify", ...args.slice(1)];
    const clean = await run([bin, ...verify]);
    expect(clean.code).toBe(0);
    expect(events(clean.stdout).at(-1)!.msg).toBe("clean");

    const { root } = paths();
    writeFileSync(join(root, "etc/hostname"), "intruder\n");
    rmSync(join(root, "etc/systemd/system/systemd-resolved.service"));
    writeFileSync(join(root, "etc/containerd/config.toml"), "version = 2\n", { flag: "a" });
    writeFileSync(join(root, "etc/systemd/system/containerd.service"), "[Service]\nExecStart=/usr/bin/containerd\n");
    const drifted = await run([bin, ...verify]);
    expect(drifted.code).toBe(3);
    const drifts = events(drifted.stdout).filter((e) => e.msg === "drift").map((e) => e.fields!);
    expect(drifts.map((d) => d.path).sort()).toEqual(
      ["etc/containerd/config.toml", "etc/hostname", "etc/systemd/system/containerd.service", "etc/systemd/system/systemd-resolved.service"].map((p) => join(root, p)),
    );
    expect(drifts.find((d) => d.path === join(root, "etc/hostname"))!.found).toContain("different content");

    expect((await run([bin, ...args])).code).toBe(0);
    expect((await run([bin, ...verify])).code).toBe(0);
  });
});

describe("other commands", () => {
  test("render --machine kube7 prints the nspawn settings and the override among its files", async () => {
    const r = await run([bin, "render", "--machine", "kube7", "--host-modules=false", "--host-devices", "", "--gpu-mode", "none"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("### /etc/systemd/nspawn/kube7.nspawn\n");
    expect(r.stdout).toContain("### /etc/systemd/system/systemd-nspawn@kube7.service.d/override.conf\n");
    expect(r.stdout).toContain("[Exec]\nBoot=yes");
  });

  test("a config with machineDir: 42 exits 2 naming the field and the file", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "machineDir: 42\n");
    const r = await run([bin, "provision", "--config", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`kube-rootfs: ${bad}:1: machineDir: expected string, got number`);
    expect(r.stdout).toBe("");
  });

  test("env values are read and checked", async () => {
    const r = await run([bin, "render", "--file", "nspawn"], { KUBE_ROOTFS_ARCH: "sparc" });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("kube-rootfs: KUBE_ROOTFS_ARCH: expected amd64|arm64|x86_64|aarch64, got sparc");
  });

  test("unknown flag, unknown phase and unknown command are usage errors", async () => {
    expect((await run([bin, "provision", "--machin", "x"])).code).toBe(2);
    const skip = await run([bin, "provision", "--skip-phases", "kubee", "--dry-run"]);
    expect(skip.code).toBe(2);
    expect(skip.stderr).toContain("--skip-phases: unknown kubee");
    expect((await run([bin, "frobnicate"])).code).toBe(2);
  });

  test("--help on every command has examples; version names commit and target", async () => {
    for (const cmd of ["provision", "render", "verify", "version"]) {
      const r = await run([bin, cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("\nExamples:\n");
      expect(r.stdout).toContain(`kube-rootfs ${cmd}`);
    }
    const v = await run([bin, "version", "--json"]);
    const info = JSON.parse(v.stdout);
    expect(info.target).toMatch(/^linux-(x64|arm64)$/);
    expect(info.commit).not.toBe("unknown");
  });
});
