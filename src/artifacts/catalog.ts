// The artifacts as data: where upstream publishes each asset and its checksum, and what of
// it is installed where. A mirror (or a kube-rootfs cache) reproduces these paths under
// <base> = <mirror>/<dir>.
import type { ArtifactName } from "../config/schema";

/** A single executable, or an archive of which some regular files are installed. */
export type Payload =
  | { kind: "file"; installAs: string }
  | { kind: "archive"; pick: (entry: string) => string | undefined; required: string[] };

/** The install tasks, one per group: the task is named after its group. */
export const INSTALL_GROUPS = ["kube", "cri", "cni"] as const;
export type InstallGroup = (typeof INSTALL_GROUPS)[number];

export interface CatalogEntry {
  name: ArtifactName;
  group: InstallGroup;
  /** Directory under a mirror, and under the cache. */
  dir: string;
  /** Upstream base URL; assets live at <base>/v<version>/<asset>. */
  upstream: string;
  /** Which goal version it follows. */
  version: "kubernetes" | "crictl" | "containerd" | "runc" | "cni";
  /** Value of the {binary} placeholder. */
  binary: string;
  /** Path of the asset under <base>, with {version} {arch} {os} {binary}. */
  asset: string;
  /** Where the checksum file lives relative to the asset URL ({asset} = the asset URL, {dir} = its directory). */
  checksum: { path: string };
  payload: Payload;
  /** Install directory inside the rootfs. */
  installDir: string;
  /** About the asset's size upstream, in MiB: until its response says, what a byte worker expects of its download (asset-sink.ts). */
  typicalMiB: number;
}

const BIN = "usr/local/bin";

/** A Kubernetes release binary: dl.k8s.io publishes one bare-hex .sha256 per binary. */
const kube = (name: ArtifactName, binary: string, typicalMiB: number): CatalogEntry => ({
  name,
  group: "kube",
  dir: "kubernetes",
  upstream: "https://dl.k8s.io/release",
  version: "kubernetes",
  binary,
  asset: "v{version}/bin/{os}/{arch}/{binary}",
  checksum: { path: "{asset}.sha256" },
  payload: { kind: "file", installAs: binary },
  installDir: BIN,
  typicalMiB,
});

/** Entries directly under an archive directory (`bin/x`, `./x`, `x`), by base name. */
const under = (prefix: string) => (entry: string) => {
  const rest = entry.replace(/^\.\//, "");
  if (!rest.startsWith(prefix)) return undefined;
  const name = rest.slice(prefix.length);
  return name && !name.includes("/") ? name : undefined;
};

export const CATALOG: Record<ArtifactName, CatalogEntry> = {
  kubelet: kube("kubelet", "kubelet", 105),
  kubectl: kube("kubectl", "kubectl", 44),
  kubeProxy: kube("kubeProxy", "kube-proxy", 42),
  crictl: {
    name: "crictl",
    group: "kube",
    dir: "crictl",
    upstream: "https://github.com/kubernetes-sigs/cri-tools/releases/download",
    version: "crictl",
    binary: "crictl",
    asset: "v{version}/crictl-v{version}-{os}-{arch}.tar.gz",
    checksum: { path: "{asset}.sha256" },
    payload: { kind: "archive", pick: (e) => (under("")(e) === "crictl" ? "crictl" : undefined), required: ["crictl"] },
    installDir: BIN,
    typicalMiB: 27,
  },
  containerd: {
    name: "containerd",
    group: "cri",
    dir: "containerd",
    upstream: "https://github.com/containerd/containerd/releases/download",
    version: "containerd",
    binary: "containerd",
    asset: "v{version}/containerd-{version}-{os}-{arch}.tar.gz",
    checksum: { path: "{asset}.sha256sum" },
    payload: { kind: "archive", pick: under("bin/"), required: ["containerd", "containerd-shim-runc-v2", "ctr"] },
    installDir: BIN,
    typicalMiB: 30,
  },
  runc: {
    name: "runc",
    group: "cri",
    dir: "runc",
    upstream: "https://github.com/opencontainers/runc/releases/download",
    version: "runc",
    binary: "runc",
    asset: "v{version}/runc.{arch}",
    checksum: { path: "{dir}/runc.sha256sum" },
    payload: { kind: "file", installAs: "runc" },
    installDir: BIN,
    typicalMiB: 11,
  },
  cni: {
    name: "cni",
    group: "cni",
    dir: "cni",
    upstream: "https://github.com/containernetworking/plugins/releases/download",
    version: "cni",
    binary: "cni",
    asset: "v{version}/cni-plugins-{os}-{arch}-v{version}.tgz",
    checksum: { path: "{asset}.sha256" },
    payload: { kind: "archive", pick: under(""), required: ["bridge", "host-local", "loopback"] },
    installDir: "opt/cni/bin",
    typicalMiB: 45,
  },
};
