// GPU nodes on a host that only looks like one (see helpers/fake-gpu-host.ts: mknod'd nodes,
// ELF stand-ins, a real ldconfig cache; no GPU is used): what is detected, what provision
// writes (the binds, the device access, the CDI spec checked against the CDI project's schema,
// containerd's CDI keys), what readiness says, and what verify names after a driver change.
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { detectNvidia, devNumbers, parseLdconfig, parseModuleVersion, parseProcDevices } from "../../src/host/nvidia";
import { CDI_VERSION, renderCdiSpec } from "../../src/gpu/cdi";
import { renderLdcacheHook } from "../../src/gpu/templates";
import { gpuCheck, gpuMismatches } from "../../src/readiness/gpu";
import { runChecks } from "../../src/readiness/check";
import { realHost } from "../../src/host/probe";
import { renderContainerdConfig } from "../../src/runtime/templates/containerd";
import { events, runSource } from "../helpers/binary";
import { DRIVER, fakeGpuHost, LIB_DIR, UVM_MAJOR } from "../helpers/fake-gpu-host";
import { tempDir, testGoal } from "../helpers/goal";
import { validate, type SchemaSet } from "../helpers/json-schema";

const arch = process.arch === "arm64" ? "arm64" : "amd64";
const lib = (name: string) => `${LIB_DIR}/${name}.so.${DRIVER}`;
const LDCONFIG_LINK = "etc/systemd/system/multi-user.target.wants/kube-rootfs-gpu-ldconfig.service";
const LIBS = [lib("libcuda"), lib("libnvidia-ml"), lib("libnvidia-ptxjitcompiler")];

describe("what the host has", () => {
  test("device nodes by their real numbers, the module's version, the driver files from the linker cache", () => {
    const { root } = fakeGpuHost();
    const host = detectNvidia(root, arch);
    expect(host.devices).toEqual([
      { path: "/dev/nvidia-caps/nvidia-cap1", major: 238, minor: 1 },
      { path: "/dev/nvidia-modeset", major: 195, minor: 254 },
      { path: "/dev/nvidia-uvm", major: UVM_MAJOR, minor: 0 },
      { path: "/dev/nvidia-uvm-tools", major: UVM_MAJOR, minor: 1 },
      { path: "/dev/nvidia0", major: 195, minor: 0 },
      { path: "/dev/nvidia1", major: 195, minor: 1 },
      { path: "/dev/nvidiactl", major: 195, minor: 255 },
    ]);
    expect(host.moduleVersion).toBe(DRIVER);
    expect(host.moduleLoaded).toBe(true);
    // the files the cache's soname links lead to, not the links
    expect(host.libraries).toEqual([...LIBS].sort());
    expect(host.binaries).toEqual(["/usr/bin/nvidia-smi"]);
    expect(host.firmware).toBe(`/lib/firmware/nvidia/${DRIVER}`);
    expect(host.majors).toMatchObject({ "nvidia-frontend": 195, "nvidia-uvm": UVM_MAJOR });
    expect(gpuMismatches(host)).toEqual([]);
  });

  test("a host without the nodes: nothing, and its linker cache is not read", () => {
    const { root } = fakeGpuHost({ devices: false });
    const host = detectNvidia(root, arch);
    expect([host.devices, host.libraries, host.moduleLoaded]).toEqual([[], [], false]);
    // this machine has no GPU either
    expect(detectNvidia("/", arch).devices.filter((d) => /nvidia(\d+|ctl)$/.test(d.path))).toEqual([]);
  });

  test("parsers: ldconfig -p for this arch only, both version files, /proc/devices, dev_t", () => {
    const cache = [
      "4 libs found in cache `/etc/ld.so.cache'",
      "\tlibnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
      "\tlibcuda.so.1 (libc6) => /usr/lib/i386-linux-gnu/libcuda.so.1",
      "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1",
      "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1",
      "\tlibcuda.so.1 (libc6,AArch64) => /usr/lib/aarch64-linux-gnu/libcuda.so.1",
      "\tlibnvidia-cfg.so.1 (libc6,x86-64, OS ABI: Linux 3.2.0) => /usr/lib/x86_64-linux-gnu/libnvidia-cfg.so.1",
    ].join("\n");
    expect(parseLdconfig(cache, "amd64")).toEqual([
      "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libnvidia-cfg.so.1",
    ]);
    expect(parseLdconfig(cache, "arm64")).toEqual(["/usr/lib/aarch64-linux-gnu/libcuda.so.1"]);
    expect(parseModuleVersion("550.54.15\n")).toBe("550.54.15");
    expect(parseModuleVersion("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build\n")).toBe("570.86.15");
    expect(parseModuleVersion(undefined)).toBeUndefined();
    expect(parseProcDevices("Character devices:\n195 nvidia-frontend\n511 nvidia-uvm\n\nBlock devices:\n259 blkext\n")).toEqual({ "nvidia-frontend": 195, "nvidia-uvm": 511 });
    // a major above 255 and a minor above 255 use the split encoding
    expect(devNumbers((511n << 8n) | 3n | (0x1n << 20n))).toEqual({ major: 511, minor: 3 + (1 << 8) });
  });

  test("mismatches: a node of another major than /proc/devices says, libraries of another driver, no module", () => {
    const host = detectNvidia(fakeGpuHost().root, arch);
    const found = gpuMismatches({
      ...host,
      moduleLoaded: false,
      moduleVersion: "545.23.08",
      devices: host.devices.map((d) => (d.path === "/dev/nvidia-uvm" ? { ...d, major: 240 } : d)),
    });
    expect(found).toEqual([
      "/dev/nvidia0 is present but the nvidia kernel module is not loaded",
      `/dev/nvidia-uvm is char 240:0 but the driver's nvidia-uvm major is ${UVM_MAJOR} (a stale node)`,
      `${lib("libcuda")} is of driver ${DRIVER}, the kernel module is 545.23.08`,
      `${lib("libnvidia-ml")} is of driver ${DRIVER}, the kernel module is 545.23.08`,
    ]);
  });
});

describe("readiness", () => {
  const status = async (input: Parameters<typeof testGoal>[0]) => (await runChecks([gpuCheck(testGoal(input))], realHost))[0]!;

  test("says what it found", async () => {
    const { root } = fakeGpuHost();
    const r = await status({ gpu: { mode: "auto", hostRoot: root } });
    expect(r.status).toBe("ok");
    expect(r.message).toStartWith(`NVIDIA driver ${DRIVER}; GPUs 0, 1; device nodes /dev/nvidia-caps/nvidia-cap1 (238:1) `);
    expect(r.message).toEndWith("; 3 libraries, 1 tools, firmware bound read-only");
  });

  test("containerd without CDI: a warning in auto, a blocker when GPUs are required", async () => {
    const { root } = fakeGpuHost();
    const auto = await status({ gpu: { mode: "auto", hostRoot: root }, versions: { containerd: "1.6.20" } });
    expect(auto.status).toBe("warn");
    expect(auto.message).toEndWith("but containerd 1.6.20 has no CDI, so pods cannot be given the GPUs");
    expect((await status({ gpu: { mode: "nvidia", hostRoot: root }, versions: { containerd: "1.6.20" } })).status).toBe("fail");
    expect((await status({ gpu: { mode: "nvidia", hostRoot: root }, versions: { containerd: "1.7.27" } })).status).toBe("ok");
  });

  test("GPU support is on with the control node and a GPU, and off with GPUs but no control node", () => {
    const { root } = fakeGpuHost();
    expect(testGoal({ gpu: { mode: "auto", hostRoot: root } }).gpu.on?.devices.map((d) => d.path)).toContain("/dev/nvidia1");
    rmSync(join(root, "dev/nvidiactl"));
    expect(testGoal({ gpu: { mode: "auto", hostRoot: root } }).gpu.on).toBeUndefined();
    expect(testGoal({ gpu: { mode: "nvidia", hostRoot: root } }).gpu.on).toBeUndefined();
  });

  test("no GPU: off in auto, a blocker naming the fix with nvidia", async () => {
    const { root } = fakeGpuHost({ devices: false });
    expect(await status({ gpu: { mode: "auto", hostRoot: root } })).toMatchObject({ status: "ok", message: `no NVIDIA GPU on the host (/dev/nvidiactl and a /dev/nvidiaN under ${root}): GPU support off` });
    expect(await status({ gpu: { mode: "nvidia", hostRoot: root } })).toMatchObject({ status: "fail", fix: "install and load the NVIDIA driver (nvidia-smi must work on the host), or use --gpu-mode auto" });
  });
});

describe("the CDI spec", () => {
  const dir = join(import.meta.dir, "../data/cdi-0.5.0");
  const set: SchemaSet = {
    docs: { "schema.json": JSON.parse(readFileSync(join(dir, "schema.json"), "utf8")), "defs.json": JSON.parse(readFileSync(join(dir, "defs.json"), "utf8")) },
    strict: true,
  };

  test("is valid against the CDI 0.5.0 schema: one device per GPU and all, shared nodes, read-only mounts, the ldcache hook", () => {
    const host = detectNvidia(fakeGpuHost().root, arch);
    const spec = Bun.YAML.parse(renderCdiSpec(host)) as Record<string, any>;
    // The schema of that version leaves out the spec-wide containerEdits SPEC.md defines (of
    // the devices' own type): check it against that definition.
    const { containerEdits, ...rest } = spec;
    expect(validate(set, "schema.json", set.docs["schema.json"]!, rest)).toEqual([]);
    expect(validate(set, "defs.json", { $ref: "#/definitions/containerEdits" }, containerEdits)).toEqual([]);
    expect([spec.cdiVersion, spec.kind]).toEqual([CDI_VERSION, "nvidia.com/gpu"]);
    expect(spec.devices.map((d: any) => d.name)).toEqual(["0", "1", "all"]);
    expect(spec.devices[1].containerEdits.deviceNodes).toEqual([{ path: "/dev/nvidia1", type: "c", major: 195, minor: 1, permissions: "rw" }]);
    expect(spec.devices[2].containerEdits.deviceNodes.map((n: any) => n.path)).toEqual(["/dev/nvidia0", "/dev/nvidia1"]);
    expect(containerEdits.deviceNodes.map((n: any) => `${n.path} ${n.major}:${n.minor}`)).toEqual([
      "/dev/nvidia-modeset 195:254", `/dev/nvidia-uvm ${UVM_MAJOR}:0`, `/dev/nvidia-uvm-tools ${UVM_MAJOR}:1`, "/dev/nvidiactl 195:255",
    ]);
    expect(containerEdits.mounts.map((m: any) => m.containerPath)).toEqual([...[...LIBS].sort(), "/usr/bin/nvidia-smi"]);
    expect(containerEdits.mounts[0].options).toEqual(["ro", "nosuid", "nodev", "bind"]);
    expect(containerEdits.hooks).toEqual([{ hookName: "createContainer", path: "/usr/local/libexec/kube-rootfs/cdi-ldcache", args: ["cdi-ldcache", LIB_DIR] }]);
  });

  test("the validator refuses what the CDI loaders refuse", () => {
    const bad = { cdiVersion: "0.5.0", kind: "nvidia.com/gpu", devices: [{ name: "0", containerEdits: { deviceNodes: [{ path: "/dev/nvidia0", major: "195" }], extra: 1 } }] };
    expect(validate(set, "schema.json", set.docs["schema.json"]!, bad)).toEqual(["$.devices[0].containerEdits.deviceNodes[0].major: expected integer, got string", "$.devices[0].containerEdits: unknown property extra"]);
    expect(validate(set, "schema.json", set.docs["schema.json"]!, { kind: "x", devices: [] })).toEqual(["$: missing required cdiVersion"]);
  });

  test("the hook rebuilds a container's linker cache from the OCI state's bundle", () => {
    const bundle = tempDir("cdi-bundle");
    const rootfs = join(bundle, "rootfs");
    const { root } = fakeGpuHost({ devices: false });
    mkdirSync(join(rootfs, "etc"), { recursive: true });
    mkdirSync(join(rootfs, LIB_DIR), { recursive: true });
    // the library as the CDI mount would put it into the container
    writeFileSync(join(rootfs, lib("libcuda")), readFileSync(join(root, lib("libcuda"))));
    const hook = join(bundle, "cdi-ldcache");
    writeFileSync(hook, renderLdcacheHook());
    chmodSync(hook, 0o755);
    const state = JSON.stringify({ ociVersion: "1.0.2", id: "c1", status: "creating", pid: 1, bundle });
    const r = Bun.spawnSync([hook, LIB_DIR], { stdin: new TextEncoder().encode(state), stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    const listed = Bun.spawnSync(["ldconfig", "-p", "-C", join(rootfs, "etc/ld.so.cache")]).stdout.toString();
    expect(listed).toContain(`libcuda.so.1 (libc6`);
    expect(existsSync(join(rootfs, LIB_DIR, "libcuda.so.1"))).toBe(true);
    const scratch = tempDir("cdi-bundle-scratch");
    mkdirSync(join(scratch, "rootfs"));
    expect(Bun.spawnSync([hook], { stdin: new TextEncoder().encode(JSON.stringify({ bundle: scratch })) }).exitCode).toBe(0);
  });
});

describe("containerd's CDI keys", () => {
  type Toml = Record<string, any>;
  const cdiOf = (version: string, cdi: boolean) => Bun.TOML.parse(renderContainerdConfig({ version, sandboxImage: "registry.k8s.io/pause:3.10", cdi })) as Toml;
  const CDI = { enable_cdi: true, cdi_spec_dirs: ["/etc/cdi", "/var/run/cdi"] };

  test("1.7: in the CRI plugin of config version 2; 2.x: in the CRI runtime plugin of version 3", () => {
    expect(cdiOf("1.7.27", true).plugins["io.containerd.grpc.v1.cri"]).toMatchObject(CDI);
    for (const v of ["2.0.4", "2.1.1"]) expect(cdiOf(v, true).plugins["io.containerd.cri.v1.runtime"]).toMatchObject(CDI);
  });

  test("not on 1.6, which has none, nor without GPUs", () => {
    expect(cdiOf("1.6.20", true).plugins["io.containerd.grpc.v1.cri"].enable_cdi).toBeUndefined();
    expect(cdiOf("1.7.27", false).plugins["io.containerd.grpc.v1.cri"].enable_cdi).toBeUndefined();
    expect(cdiOf("2.0.4", false).plugins["io.containerd.cri.v1.runtime"].enable_cdi).toBeUndefined();
  });
});

test("doctor says what it found, and that GPU support is off on a host without one", async () => {
  // --offline: doctor contacts no mirror; the lines are JSON events (stdout is not a terminal)
  const doctor = async (flags: string[]) =>
    events((await runSource(["doctor", "--offline", "--bootstrap-method", "none", ...flags])).stdout).find((e) => e.fields?.check === "gpu");
  expect((await doctor(["--gpu-host-root", fakeGpuHost().root]))?.msg).toStartWith(`gpu: NVIDIA driver ${DRIVER}; GPUs 0, 1; device nodes `);
  const none = fakeGpuHost({ devices: false }).root;
  expect((await doctor(["--gpu-host-root", none]))?.msg).toBe(`gpu: no NVIDIA GPU on the host (/dev/nvidiactl and a /dev/nvidiaN under ${none}): GPU support off`);
  expect(await doctor(["--gpu-mode", "none"])).toBeUndefined();
}, 30_000);

describe("render", () => {
  test("shows the GPU lines of both files and the CDI spec; --file cdi alone; refused when GPU support is off", async () => {
    const { root } = fakeGpuHost({ minimal: true });
    const all = await runSource(["render", "--machine", "gpu4", "--gpu-host-root", root]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`Bind=${root}/dev/nvidia0:/dev/nvidia0\n`);
    expect(all.stdout).toContain("DeviceAllow=/dev/char/195:255 rwm\n");
    expect(all.stdout).toContain("### /var/lib/machines/gpu4/etc/cdi/nvidia.yaml\n");
    const cdi = await runSource(["render", "--file", "cdi", "--gpu-host-root", root]);
    expect(Bun.YAML.parse(cdi.stdout)).toMatchObject({ cdiVersion: CDI_VERSION, devices: [{ name: "0" }, { name: "all" }] });
    const off = await runSource(["render", "--file", "cdi", "--gpu-mode", "none"]);
    expect([off.code, off.stderr.trim()]).toEqual([2, "kube-rootfs: --file cdi: GPU support is off (gpu.mode none): there is no CDI spec"]);
    const bare = await runSource(["render", "--gpu-mode", "none"]);
    expect(bare.stdout).not.toContain("nvidia");
  }, 30_000);
});

describe("provision and verify", () => {
  const paths = (name: string) => {
    const dir = tempDir(`gpu-${name}`);
    return { dir, root: join(dir, "machines", name), nspawn: join(dir, `${name}.nspawn`), override: join(dir, "override.conf") };
  };
  const args = (name: string, p: ReturnType<typeof paths>, extra: string[]) => [
    "--machine", name, "--machine-dir", p.root, "--nspawn-config-file", p.nspawn, "--service-override-file", p.override,
    "--cache-dir", join(p.dir, "cache"), "--bootstrap-method", "none", "--skip-phases", "kube,cri,cni,images", "--log-format", "json", ...extra,
  ];
  const provision = async (name: string, p: ReturnType<typeof paths>, extra: string[]) => {
    const r = await runSource(["provision", ...args(name, p, extra)]);
    if (r.code !== 0) throw new Error(`provision exited ${r.code}: ${r.stdout.slice(-2000)}${r.stderr}`);
    return r;
  };
  const read = (p: string) => readFileSync(p, "utf8");

  test("auto on a GPU host: binds, device access by number, the CDI spec, containerd's keys, the record; verify names a changed library", async () => {
    const host = fakeGpuHost();
    const p = paths("gpu1");
    const said = events((await provision("gpu1", p, ["--gpu-host-root", host.root])).stdout).find((e) => e.msg === "NVIDIA GPUs passed into the machine");
    expect(said?.fields).toMatchObject({ driver: DRIVER, files: 5 });
    expect(said?.fields?.devices).toContain("/dev/nvidia1 195:1");
    const nspawn = read(p.nspawn);
    expect(nspawn).toContain(`Bind=${host.root}/dev/nvidia0:/dev/nvidia0\n`);
    expect(nspawn).toContain(`Bind=${host.root}/dev/nvidia-caps/nvidia-cap1:/dev/nvidia-caps/nvidia-cap1\n`);
    for (const f of [...LIBS, "/usr/bin/nvidia-smi", `/lib/firmware/nvidia/${DRIVER}`]) expect(nspawn).toContain(`BindReadOnly=${host.root}${f}:${f}\n`);
    const override = read(p.override);
    for (const n of ["195:0", "195:1", "195:255", "195:254", `${UVM_MAJOR}:0`, `${UVM_MAJOR}:1`, "238:1"]) expect(override).toContain(`DeviceAllow=/dev/char/${n} rwm\n`);
    expect(Bun.YAML.parse(read(join(p.root, "etc/cdi/nvidia.yaml")))).toMatchObject({ kind: "nvidia.com/gpu" });
    expect((Bun.TOML.parse(read(join(p.root, "etc/containerd/config.toml"))) as any).plugins["io.containerd.cri.v1.runtime"].enable_cdi).toBe(true);
    expect(lstatSync(join(p.root, LDCONFIG_LINK)).isSymbolicLink()).toBe(true);
    const saved = JSON.parse(read(join(p.root, "var/lib/kube-rootfs/goal.json")));
    expect(saved.result.gpu.files).toContain(lib("libcuda"));

    const clean = await runSource(["verify", "--machine-dir", p.root, "--log-format", "json"]);
    expect(events(clean.stdout).filter((e) => e.msg === "drift")).toEqual([]);
    expect(clean.code).toBe(0);

    // A driver update on the host: one more library, one gone.
    const added = host.addLibrary(`libnvidia-nvvm.so.${DRIVER}`, "libnvidia-nvvm.so.4");
    host.removeFile(lib("libnvidia-ptxjitcompiler"));
    const drifted = await runSource(["verify", "--machine-dir", p.root, "--log-format", "json"]);
    expect(drifted.code).toBe(3);
    const drifts = events(drifted.stdout).filter((e) => e.msg === "drift").map((e) => e.fields);
    expect(drifts).toContainEqual({ path: `${host.root}${added}`, expected: "not bound (absent at the last provision)", found: "in the host's driver now" });
    expect(drifts).toContainEqual({ path: `${host.root}${lib("libnvidia-ptxjitcompiler")}`, expected: "bound read-only by the last provision", found: "no longer in the host's driver" });
    expect(drifts.map((d) => d!.path)).toContain(p.nspawn);

    // A second provision brings the machine in line.
    await provision("gpu1", p, ["--gpu-host-root", host.root]);
    expect(read(p.nspawn)).toContain(`BindReadOnly=${host.root}${added}:${added}\n`);
    expect((await runSource(["verify", "--machine-dir", p.root, "--log-format", "json"])).code).toBe(0);

    // gpu.mode none: the GPU lines and the files inside go.
    await provision("gpu1", p, ["--gpu-host-root", host.root, "--gpu-mode", "none"]);
    expect(read(p.nspawn)).not.toContain("nvidia");
    expect(read(p.override)).not.toContain("/dev/char/");
    expect(existsSync(join(p.root, "etc/cdi/nvidia.yaml"))).toBe(false);
    expect(lstatSync(join(p.root, LDCONFIG_LINK), { throwIfNoEntry: false })).toBeUndefined();
    expect(read(join(p.root, "etc/containerd/config.toml"))).not.toContain("cdi");
    expect(JSON.parse(read(join(p.root, "var/lib/kube-rootfs/goal.json"))).result).toEqual({});
  }, 60_000);

  test("none on a GPU host binds nothing", async () => {
    const host = fakeGpuHost();
    const p = paths("gpu2");
    await provision("gpu2", p, ["--gpu-host-root", host.root, "--gpu-mode", "none"]);
    expect(read(p.nspawn)).not.toContain("nvidia");
    expect(existsSync(join(p.root, "etc/cdi"))).toBe(false);
  }, 30_000);

  test("nvidia on a host without GPUs: a readiness blocker, exit 1, nothing written", async () => {
    const host = fakeGpuHost({ devices: false });
    const p = paths("gpu3");
    const r = await runSource(["provision", ...args("gpu3", p, ["--gpu-host-root", host.root, "--gpu-mode", "nvidia"])]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(`gpu: gpu.mode nvidia: no NVIDIA GPU on the host (/dev/nvidiactl and a /dev/nvidiaN under ${host.root})`);
    expect([existsSync(p.root), existsSync(p.nspawn), existsSync(p.override)]).toEqual([false, false, false]);
  }, 30_000);
});
