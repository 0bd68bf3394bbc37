// What makes the rootfs a node: every file the runtime task writes (and verify checks, and
// render prints), by path inside the machine, and the links that enable its units.
import { readdirSync, readFileSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import { durationSeconds, type MirrorEndpoint } from "../config/schema";
import { RunError } from "../errors";
import { resolveInside } from "../fs/inside";
import type { FileSpec, LinkSpec } from "../fs/spec";
import { hostRel } from "../fs/target";
import { gpuFiles, gpuLinks, staleGpuFiles } from "./gpu";
import { clusterCAOf } from "./join";
import { CERTS_DIR, hostsTomlHeader, renderContainerdConfig, renderContainerdUnit, renderHostsToml } from "./templates/containerd";
import { BOOTSTRAP_KUBECONFIG, CLUSTER_CA, KUBELET_CONFIG, kubeletHasNoSwap, LOGIND_DROPIN, renderKubeletConfig, renderKubeletDropIn, renderKubeletUnit, renderLogindDropIn } from "./templates/kubelet";
import { renderCrictlYaml, renderSysctl } from "./templates/node";

const UNITS = "etc/systemd/system";

/** systemctl enable, done as files: each unit's WantedBy= link. */
const UNIT_LINKS: LinkSpec[] = ["containerd", "kubelet"].map((unit) => ({
  name: `${unit}-enabled`,
  path: `${UNITS}/multi-user.target.wants/${unit}.service`,
  target: `/${UNITS}/${unit}.service`,
}));

export const runtimeLinks = (goal: Resolved): LinkSpec[] => [...UNIT_LINKS, ...gpuLinks(goal)];

function readHostFile(file: string, field: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new RunError(`${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** certs.d/<host>/hosts.toml per mirrored registry, with each endpoint's CA copied beside it. */
function mirrorFiles(mirrors: Record<string, MirrorEndpoint[]>): FileSpec[] {
  return Object.entries(mirrors).flatMap(([registry, endpoints]) => {
    const dir = `${CERTS_DIR}/${registry}`;
    const cas: FileSpec[] = [];
    const resolved = endpoints.map((e, n) => {
      const { url, ca } = typeof e === "string" ? { url: e, ca: undefined } : e;
      if (!ca) return { url };
      const caPath = `${dir}/mirror-${n + 1}-ca.crt`;
      cas.push({ name: `mirror-ca:${registry}:${n + 1}`, path: hostRel(caPath), content: readHostFile(ca, `runtime.registryMirrors.${registry}[${n}].ca`), mode: 0o644 });
      return { url, caPath };
    });
    return [{ name: `hosts-toml:${registry}`, path: hostRel(`${dir}/hosts.toml`), content: renderHostsToml({ registry, endpoints: resolved }), mode: 0o644 }, ...cas];
  });
}

/** The bootstrap kubeconfig (0600: it holds a token) and the cluster CA taken from it. */
function joinFiles(file: string | undefined): FileSpec[] {
  if (!file) return [];
  const kubeconfig = readHostFile(file, "kubelet.bootstrapKubeconfig");
  return [
    { name: "bootstrap-kubeconfig", path: hostRel(BOOTSTRAP_KUBECONFIG), content: kubeconfig, mode: 0o600 },
    { name: "cluster-ca", path: hostRel(CLUSTER_CA), content: clusterCAOf(kubeconfig, file), mode: 0o644 },
  ];
}

export const kubeletVersion = (goal: Resolved) => goal.downloads.kubelet.version ?? goal.versions.kubernetes;

/**
 * The host keeps its active swap (host.swap keep) and this kubelet can keep pods off it; an older
 * one cannot, and readiness stops the run instead.
 */
export const toleratesSwap = (goal: Resolved) => goal.host.swap === "keep" && goal.host.swaps.length > 0 && kubeletHasNoSwap(kubeletVersion(goal));

export function runtimeFiles(goal: Resolved): FileSpec[] {
  const containerdVersion = goal.downloads.containerd.version ?? goal.versions.containerd;
  return [
    {
      name: "containerd-config",
      path: "etc/containerd/config.toml",
      content: renderContainerdConfig({ version: containerdVersion, sandboxImage: goal.runtime.sandboxImage, cdi: Boolean(goal.gpu.on) }),
      mode: 0o644,
    },
    { name: "containerd-unit", path: `${UNITS}/containerd.service`, content: renderContainerdUnit(), mode: 0o644 },
    { name: "kubelet-unit", path: `${UNITS}/kubelet.service`, content: renderKubeletUnit(), mode: 0o644 },
    { name: "kubelet-dropin", path: `${UNITS}/kubelet.service.d/10-kube-rootfs.conf`, content: renderKubeletDropIn(), mode: 0o644 },
    { name: "kubelet-config", path: hostRel(KUBELET_CONFIG), content: renderKubeletConfig({ ...goal.kubelet, toleratesSwap: toleratesSwap(goal) }), mode: 0o644 },
    { name: "logind-dropin", path: hostRel(LOGIND_DROPIN), content: renderLogindDropIn(durationSeconds(goal.kubelet.shutdownGracePeriod)), mode: 0o644 },
    { name: "crictl", path: "etc/crictl.yaml", content: renderCrictlYaml(), mode: 0o644 },
    { name: "sysctl", path: "etc/sysctl.d/99-kubernetes.conf", content: renderSysctl(), mode: 0o644 },
    ...mirrorFiles(goal.runtime.registryMirrors ?? {}),
    ...joinFiles(goal.kubelet.bootstrapKubeconfig),
    ...gpuFiles(goal),
  ];
}

const listDir = (dir: string) => readdirSync(dir, { withFileTypes: true });

/** What an earlier provision wrote that the goal no longer has: mirrors, and GPU support turned off. */
export const staleRuntimeFiles = (goal: Resolved, wanted: FileSpec[]): string[] => [...staleMirrorFiles(goal.machineDir, wanted), ...staleGpuFiles(goal)];

/**
 * Files under certs.d that an earlier provision wrote (a hosts.toml with our header, and the CAs
 * beside it) and `wanted` no longer has: a mirror dropped from the goal must stop being used.
 */
function staleMirrorFiles(machineDir: string, wanted: FileSpec[]): string[] {
  const certs = hostRel(CERTS_DIR);
  const want = new Set(wanted.map((f) => f.path));
  let hosts;
  try {
    hosts = listDir(resolveInside(machineDir, certs)).filter((e) => e.isDirectory());
  } catch {
    return [];
  }
  return hosts.flatMap(({ name: host }) => {
    const dir = resolveInside(machineDir, `${certs}/${host}`);
    let ours = false;
    try {
      ours = readFileSync(`${dir}/hosts.toml`, "utf8").startsWith(hostsTomlHeader(host));
    } catch {
      // no hosts.toml: not a directory we wrote
    }
    if (!ours) return [];
    return listDir(dir)
      .filter((e) => e.isFile() && (e.name === "hosts.toml" || /^mirror-\d+-ca\.crt$/.test(e.name)))
      .map((e) => `${certs}/${host}/${e.name}`)
      .filter((p) => !want.has(p));
  });
}
