// The runtime task: containerd's config for the version being installed (1.x: version 2, 2.x:
// version 3, parsed as TOML here), its unit, kubelet's unit and configuration, registry mirrors
// and join material, written idempotently into a rootfs and shown by a dry run.
import { describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadGoal } from "../../src/config/load";
import { configDrift } from "../../src/verify";
import { clusterCAOf } from "../../src/runtime/join";
import { runtimeFiles } from "../../src/runtime/files";
import { runtimeTask } from "../../src/runtime/task";
import { renderContainerdConfig, renderContainerdUnit, renderHostsToml } from "../../src/runtime/templates/containerd";
import { renderKubeletConfig, renderKubeletDropIn, renderKubeletUnit } from "../../src/runtime/templates/kubelet";
import { renderCrictlYaml, renderSysctl } from "../../src/runtime/templates/node";
import { golden } from "../helpers/golden";
import { runLogged, tempDir, testGoal } from "../helpers/goal";
import { CA, kubeconfig } from "../helpers/kubeconfig";

type Toml = Record<string, any>;
const PAUSE = "registry.k8s.io/pause:3.10";

describe("containerd config", () => {
  test("1.6: version 2, one CRI plugin", () => {
    const text = renderContainerdConfig({ version: "1.6.20", sandboxImage: PAUSE });
    golden("containerd-1.6.config.toml", text);
    const toml = Bun.TOML.parse(text) as Toml;
    expect(toml.version).toBe(2);
    const cri = toml.plugins["io.containerd.grpc.v1.cri"];
    expect(cri.sandbox_image).toBe(PAUSE);
    expect(cri.containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
    expect(cri.cni).toEqual({ bin_dir: "/opt/cni/bin", conf_dir: "/etc/cni/net.d" });
    expect(cri.registry.config_path).toBe("/etc/containerd/certs.d");
  });

  test("2.0: version 3, the CRI runtime and images plugins", () => {
    const text = renderContainerdConfig({ version: "2.0.4", sandboxImage: "mirror.example/pause:3.10" });
    golden("containerd-2.0.config.toml", text);
    const toml = Bun.TOML.parse(text) as Toml;
    expect(toml.version).toBe(3);
    expect(Object.keys(toml.plugins).sort()).toEqual(["io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"]);
    const images = toml.plugins["io.containerd.cri.v1.images"];
    expect(images.pinned_images.sandbox).toBe("mirror.example/pause:3.10");
    expect(images.registry.config_path).toBe("/etc/containerd/certs.d");
    const runtime = toml.plugins["io.containerd.cri.v1.runtime"];
    expect(runtime.containerd.default_runtime_name).toBe("runc");
    expect(runtime.containerd.runtimes.runc).toEqual({
      runtime_type: "io.containerd.runc.v2",
      options: { BinaryName: "/usr/local/bin/runc", SystemdCgroup: true },
    });
    expect(runtime.cni).toEqual({ bin_dir: "/opt/cni/bin", conf_dir: "/etc/cni/net.d" });
  });

  test("2.1 and later: CNI bin_dirs", () => {
    const toml = Bun.TOML.parse(renderContainerdConfig({ version: "2.1.0", sandboxImage: PAUSE })) as Toml;
    expect(toml.version).toBe(3);
    expect(toml.plugins["io.containerd.cri.v1.runtime"].cni).toEqual({ bin_dirs: ["/opt/cni/bin"], conf_dir: "/etc/cni/net.d" });
  });

  test("hosts.toml: mirrors in order, CA where given, then the registry", () => {
    const text = renderHostsToml({
      registry: "docker.io",
      endpoints: [{ url: "https://mirror.example:5000", caPath: "/etc/containerd/certs.d/docker.io/mirror-1-ca.crt" }, { url: "http://10.0.0.5:5000" }],
    });
    golden("docker.io.hosts.toml", text);
    const toml = Bun.TOML.parse(text) as Toml;
    expect(toml.server).toBe("https://registry-1.docker.io");
    expect(Object.keys(toml.host)).toEqual(["https://mirror.example:5000", "http://10.0.0.5:5000"]);
    expect(toml.host["https://mirror.example:5000"].ca).toBe("/etc/containerd/certs.d/docker.io/mirror-1-ca.crt");
    expect(Bun.TOML.parse(renderHostsToml({ registry: "_default", endpoints: [{ url: "https://m.example" }] }))).not.toHaveProperty("server");
  });
});

describe("units and node files", () => {
  test("containerd.service: upstream's settings", () => {
    const unit = renderContainerdUnit();
    golden("containerd.service", unit);
    for (const line of ["ExecStart=/usr/local/bin/containerd", "Delegate=yes", "KillMode=process", "Restart=always", "LimitNOFILE=infinity", "TasksMax=infinity", "OOMScoreAdjust=-999", "ExecStartPre=-/sbin/modprobe overlay", "WantedBy=multi-user.target"]) {
      expect(unit.split("\n")).toContain(line);
    }
  });
  test("kubelet.service waits for either kubeconfig; the drop-in runs it with both", () => {
    golden("kubelet.service", renderKubeletUnit());
    golden("kubelet.service.d-10-kube-rootfs.conf", renderKubeletDropIn());
    expect(renderKubeletUnit()).toContain("ConditionPathExists=|/etc/kubernetes/kubelet.conf\nConditionPathExists=|/etc/kubernetes/bootstrap-kubelet.conf\n");
  });
  test("graceful node shutdown: the grace in the KubeletConfiguration, and a logind that lets kubelet's inhibitor hold the poweroff that long", () => {
    const goal = testGoal({ kubelet: { shutdownGracePeriod: "1m30s", shutdownGracePeriodCriticalPods: "20s" } });
    const files = new Map(runtimeFiles(goal).map((f) => [f.name, f]));
    expect(Bun.YAML.parse(files.get("kubelet-config")!.content as string)).toMatchObject({ shutdownGracePeriod: "1m30s", shutdownGracePeriodCriticalPods: "20s" });
    expect(files.get("logind-dropin")).toMatchObject({ path: "etc/systemd/logind.conf.d/10-kube-rootfs.conf", content: expect.stringContaining("\n[Login]\nInhibitDelayMaxSec=90\n") });
    expect(testGoal().kubelet).toMatchObject({ shutdownGracePeriod: "30s", shutdownGracePeriodCriticalPods: "10s" });
  });
  test("KubeletConfiguration", () => {
    const text = renderKubeletConfig({ clusterDNS: ["10.96.0.10", "fd00::a"], clusterDomain: "cluster.local", shutdownGracePeriod: "30s", shutdownGracePeriodCriticalPods: "10s" });
    golden("kubelet-config.yaml", text);
    expect(Bun.YAML.parse(text)).toMatchObject({
      kind: "KubeletConfiguration",
      cgroupDriver: "systemd",
      containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
      authentication: { webhook: { enabled: true }, anonymous: { enabled: false } },
      authorization: { mode: "Webhook" },
      rotateCertificates: true,
      clusterDNS: ["10.96.0.10", "fd00::a"],
      clusterDomain: "cluster.local",
    });
    expect((Bun.YAML.parse(text) as Record<string, unknown>).failSwapOn).toBeUndefined();
  });
  test("KubeletConfiguration on a host that keeps its swap: kubelet starts, pods get none of it", () => {
    const text = renderKubeletConfig({ clusterDNS: ["10.96.0.10"], clusterDomain: "cluster.local", shutdownGracePeriod: "30s", shutdownGracePeriodCriticalPods: "10s", toleratesSwap: true });
    golden("kubelet-config-swap.yaml", text);
    expect(Bun.YAML.parse(text)).toMatchObject({ failSwapOn: false, memorySwap: { swapBehavior: "NoSwap" } });
  });
  test("crictl.yaml and sysctls", () => {
    golden("crictl.yaml", renderCrictlYaml());
    golden("99-kubernetes.conf", renderSysctl());
  });
});

describe("join material", () => {
  test("the cluster CA is the current context's", () => expect(clusterCAOf(kubeconfig(), "/k")).toBe(CA));
  test("a kubeconfig without one is refused, naming the field and file", () => {
    expect(() => clusterCAOf("clusters: []\n", "/etc/join.conf")).toThrow(
      "kubelet.bootstrapKubeconfig /etc/join.conf: no certificate-authority-data for its current cluster (kubelet needs the cluster CA)",
    );
    expect(() => clusterCAOf(kubeconfig(Buffer.from("hello").toString("base64")), "/k")).toThrow("not a base64 PEM certificate");
  });
});

describe("runtime task", () => {
  const host = tempDir("runtime-host");
  const ca = join(host, "mirror-ca.pem");
  const boot = join(host, "bootstrap.conf");
  writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nmirror\n-----END CERTIFICATE-----\n");
  writeFileSync(boot, kubeconfig());
  const goal = testGoal({
    versions: { containerd: "1.7.27" },
    runtime: { registryMirrors: { "docker.io": [{ url: "https://mirror.example", ca }, "http://10.0.0.5:5000"], "quay.io": ["https://quay-mirror.example"] } },
    kubelet: { bootstrapKubeconfig: boot, clusterDNS: ["10.32.0.10"] },
  });
  const at = (rel: string) => join(goal.machineDir, rel);

  test("a dry run lists every file and link and writes nothing", async () => {
    const { outcome, events } = await runLogged(runtimeTask(goal), { dryRun: true });
    expect(outcome).toBe("completed");
    const planned = events.filter((e) => e.msg === "would write").map((e) => (e.fields!.path as string).slice(goal.machineDir.length + 1));
    expect(planned.sort()).toEqual([
      "etc/containerd/certs.d/docker.io/hosts.toml",
      "etc/containerd/certs.d/docker.io/mirror-1-ca.crt",
      "etc/containerd/certs.d/quay.io/hosts.toml",
      "etc/containerd/config.toml",
      "etc/crictl.yaml",
      "etc/kubernetes/bootstrap-kubelet.conf",
      "etc/kubernetes/pki/ca.crt",
      "etc/sysctl.d/99-kubernetes.conf",
      "etc/systemd/logind.conf.d/10-kube-rootfs.conf",
      "etc/systemd/system/containerd.service",
      "etc/systemd/system/kubelet.service",
      "etc/systemd/system/kubelet.service.d/10-kube-rootfs.conf",
      "etc/systemd/system/multi-user.target.wants/containerd.service",
      "etc/systemd/system/multi-user.target.wants/kubelet.service",
      "var/lib/kubelet/config.yaml",
    ]);
    expect(existsSync(goal.machineDir)).toBe(false);
  });

  test("writes them: the config for the version installed, mirrors with their CA, join material at 0600, units enabled", async () => {
    expect((await runLogged(runtimeTask(goal))).outcome).toBe("completed");
    expect(readFileSync(at("etc/containerd/config.toml"), "utf8")).toStartWith("# containerd 1.7.27: written by kube-rootfs");
    expect(Bun.TOML.parse(readFileSync(at("etc/containerd/config.toml"), "utf8"))).toHaveProperty("version", 2);
    const hosts = Bun.TOML.parse(readFileSync(at("etc/containerd/certs.d/docker.io/hosts.toml"), "utf8")) as Toml;
    expect(hosts.host["https://mirror.example"].ca).toBe("/etc/containerd/certs.d/docker.io/mirror-1-ca.crt");
    expect(readFileSync(at("etc/containerd/certs.d/docker.io/mirror-1-ca.crt"), "utf8")).toBe(readFileSync(ca, "utf8"));
    expect(readFileSync(at("etc/kubernetes/bootstrap-kubelet.conf"), "utf8")).toBe(kubeconfig());
    expect(statSync(at("etc/kubernetes/bootstrap-kubelet.conf")).mode & 0o777).toBe(0o600);
    expect(readFileSync(at("etc/kubernetes/pki/ca.crt"), "utf8")).toBe(CA);
    expect(readFileSync(at("var/lib/kubelet/config.yaml"), "utf8")).toContain("clusterDNS:\n  - 10.32.0.10\n");
    expect(readlinkSync(at("etc/systemd/system/multi-user.target.wants/containerd.service"))).toBe("/etc/systemd/system/containerd.service");
    expect(lstatSync(at("etc/systemd/system/multi-user.target.wants/kubelet.service")).isSymbolicLink()).toBe(true);
  });

  test("a second run writes nothing", async () => {
    const before = statSync(at("etc/containerd/config.toml")).mtimeMs;
    const { outcome, events } = await runLogged(runtimeTask(goal));
    expect(outcome).toBe("skipped");
    expect(events.filter((e) => e.msg === "wrote")).toEqual([]);
    expect(statSync(at("etc/containerd/config.toml")).mtimeMs).toBe(before);
  });

  test("verify names an edited config, a removed enable link, and nothing once rewritten", async () => {
    expect(configDrift(goal).filter((d) => d.path.startsWith(goal.machineDir + "/etc/containerd") || d.path.includes("kubelet"))).toEqual([]);
    writeFileSync(at("etc/containerd/config.toml"), "version = 2\n");
    const link = at("etc/systemd/system/multi-user.target.wants/kubelet.service");
    rmSync(link);
    const drifts = configDrift(goal);
    expect(drifts.find((d) => d.path === at("etc/containerd/config.toml"))?.found).toContain("different content");
    expect(drifts.find((d) => d.path === link)).toEqual({ path: link, expected: "symlink to /etc/systemd/system/kubelet.service (unit enabled)", found: "missing" });
    await runLogged(runtimeTask(goal));
    expect(configDrift(goal).filter((d) => d.path.startsWith(goal.machineDir + "/etc/containerd") || d.path === link)).toEqual([]);
  });

  test("a mirror dropped from the goal is removed (dry run: would remove), one kube-rootfs did not write is left alone", async () => {
    const foreign = at("etc/containerd/certs.d/registry.example/hosts.toml");
    mkdirSync(join(foreign, ".."), { recursive: true });
    writeFileSync(foreign, 'server = "https://registry.example"\n');
    const fewer = testGoal({ machineDir: goal.machineDir, versions: { containerd: "1.7.27" }, runtime: { registryMirrors: { "docker.io": ["https://mirror.example"] } }, kubelet: goal.kubelet });
    const stale = ["etc/containerd/certs.d/docker.io/mirror-1-ca.crt", "etc/containerd/certs.d/quay.io/hosts.toml"].map(at);
    expect(configDrift(fewer).filter((d) => d.found === "present").map((d) => d.path).sort()).toEqual(stale);
    const planned = await runLogged(runtimeTask(fewer), { dryRun: true });
    expect(planned.events.filter((e) => e.msg === "would remove").map((e) => e.fields!.path).sort()).toEqual(stale);
    expect(stale.every((p) => existsSync(p))).toBe(true);
    const done = await runLogged(runtimeTask(fewer));
    expect(done.events.filter((e) => e.msg === "removed").map((e) => e.fields!.path).sort()).toEqual(stale);
    expect(stale.some((p) => existsSync(p))).toBe(false);
    expect(existsSync(foreign)).toBe(true);
    expect(configDrift(fewer).filter((d) => d.path.includes("certs.d"))).toEqual([]);
    expect((await runLogged(runtimeTask(fewer))).outcome).toBe("skipped");
  });

  test("an unreadable CA names its field", async () => {
    const bad = testGoal({ runtime: { registryMirrors: { "registry.example:5000": [{ url: "https://m.example", ca: "/nonexistent/ca.pem" }] } } });
    await expect(runLogged(runtimeTask(bad))).rejects.toThrow("runtime.registryMirrors.registry.example:5000[0].ca: cannot read /nonexistent/ca.pem: ENOENT");
  });
});

describe("config", () => {
  test("--runtime-registry-mirrors takes host=url pairs, a repeated host keeps its order", () => {
    const goal = loadGoal({ flags: { "runtime-registry-mirrors": "docker.io=https://a.example,quay.io=https://q.example,docker.io=http://b.example:5000" } });
    expect(goal.runtime.registryMirrors).toEqual({ "docker.io": ["https://a.example", "http://b.example:5000"], "quay.io": ["https://q.example"] });
    expect(goal.runtime.sandboxImage).toBe(PAUSE);
  });
  test("docs/node.md's mirrors and join material example is a valid goal state", () => {
    const page = readFileSync(join(import.meta.dir, "../../docs/node.md"), "utf8");
    const yaml = /Registry mirrors and join material in a goal-state file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(page)![1]!;
    const file = join(tempDir("readme-goal"), "node.yaml");
    writeFileSync(file, yaml);
    expect(loadGoal({ configFile: file }).runtime.registryMirrors).toEqual({
      "docker.io": ["https://mirror.internal:5000", { url: "https://backup.internal", ca: "/etc/kube-rootfs/backup-ca.pem" }],
    });
  });

  test("bad mirror input names the flag", () => {
    expect(() => loadGoal({ flags: { "runtime-registry-mirrors": "docker.io" } })).toThrow(/^--runtime-registry-mirrors: expected record/);
    expect(() => loadGoal({ flags: { "runtime-registry-mirrors": "docker.io=ftp://x" } })).toThrow("--runtime-registry-mirrors: expected a http/https URL");
    expect(() => loadGoal({ flags: { "runtime-sandbox-image": "Not An Image" } })).toThrow("--runtime-sandbox-image: expected an image reference");
  });
});
