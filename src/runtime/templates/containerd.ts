// containerd inside the machine: its config.toml (schema chosen by the installed version), its
// systemd unit, and one hosts.toml per mirrored registry.
import { CDI_SPEC_DIRS } from "../../gpu/cdi";

/** Where containerd, runc and the CNI plugins are installed, and where its host configs live. */
export const CONTAINERD_BIN = "/usr/local/bin/containerd";
export const RUNC_BIN = "/usr/local/bin/runc";
export const CNI_BIN_DIR = "/opt/cni/bin";
export const CNI_CONF_DIR = "/etc/cni/net.d";
export const CERTS_DIR = "/etc/containerd/certs.d";
export const CONTAINERD_SOCKET = "unix:///run/containerd/containerd.sock";

export interface ContainerdConfigInput {
  /** The containerd version being installed, e.g. 1.6.20 or 2.0.4. */
  version: string;
  sandboxImage: string;
  /** turn CDI on (GPU support); written only for a version that has it */
  cdi?: boolean;
}

/** CDI in the CRI plugin (enable_cdi, cdi_spec_dirs) came with containerd 1.7. */
export function containerdHasCdi(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 1 || (major === 1 && minor >= 7);
}

const q = (s: string) => JSON.stringify(s);
const cdiLines = (on: boolean) => (on ? ["  enable_cdi = true", `  cdi_spec_dirs = [${CDI_SPEC_DIRS.map(q).join(", ")}]`] : []);

/**
 * containerd 1.x reads config version 2 (one CRI plugin); 2.x reads version 3, where the CRI
 * plugin is split into runtime and images, and 2.1 renamed the CNI bin_dir to bin_dirs.
 */
export function renderContainerdConfig(i: ContainerdConfigInput): string {
  const [major = 0, minor = 0] = i.version.split(".").map(Number);
  const cdi = Boolean(i.cdi) && containerdHasCdi(i.version);
  const header = `# containerd ${i.version}: written by kube-rootfs; changes are replaced on the next provision.`;
  const runc = (plugin: string) => [
    `[plugins.${plugin}.containerd]`,
    `  default_runtime_name = "runc"`,
    "",
    `[plugins.${plugin}.containerd.runtimes.runc]`,
    `  runtime_type = "io.containerd.runc.v2"`,
    "",
    // kubelet's cgroupDriver is systemd: both must agree or pods get two cgroup managers.
    `[plugins.${plugin}.containerd.runtimes.runc.options]`,
    `  BinaryName = ${q(RUNC_BIN)}`,
    "  SystemdCgroup = true",
    "",
  ];
  if (major < 2) {
    const cri = `"io.containerd.grpc.v1.cri"`;
    return [
      header,
      "version = 2",
      "",
      `[plugins.${cri}]`,
      `  sandbox_image = ${q(i.sandboxImage)}`,
      ...cdiLines(cdi),
      "",
      ...runc(cri),
      `[plugins.${cri}.cni]`,
      `  bin_dir = ${q(CNI_BIN_DIR)}`,
      `  conf_dir = ${q(CNI_CONF_DIR)}`,
      "",
      `[plugins.${cri}.registry]`,
      `  config_path = ${q(CERTS_DIR)}`,
      "",
    ].join("\n");
  }
  const runtime = `"io.containerd.cri.v1.runtime"`;
  const images = `"io.containerd.cri.v1.images"`;
  return [
    header,
    "version = 3",
    "",
    `[plugins.${images}.pinned_images]`,
    `  sandbox = ${q(i.sandboxImage)}`,
    "",
    `[plugins.${images}.registry]`,
    `  config_path = ${q(CERTS_DIR)}`,
    "",
    ...(cdi ? [`[plugins.${runtime}]`, ...cdiLines(true), ""] : []),
    ...runc(runtime),
    `[plugins.${runtime}.cni]`,
    major === 2 && minor === 0 ? `  bin_dir = ${q(CNI_BIN_DIR)}` : `  bin_dirs = [${q(CNI_BIN_DIR)}]`,
    `  conf_dir = ${q(CNI_CONF_DIR)}`,
    "",
  ].join("\n");
}

export function renderContainerdUnit(): string {
  return [
    "# written by kube-rootfs; changes are replaced on the next provision.",
    "[Unit]",
    "Description=containerd container runtime",
    "Documentation=https://containerd.io",
    "After=network.target local-fs.target dbus.service",
    "",
    "[Service]",
    // The snapshotter needs overlay; "-": the host may have it built in or loaded already.
    "ExecStartPre=-/sbin/modprobe overlay",
    `ExecStart=${CONTAINERD_BIN}`,
    "Type=notify",
    // Containers' cgroups live below containerd's: systemd must hand the subtree over.
    "Delegate=yes",
    // Stopping or restarting containerd must not kill the shims and the containers they run.
    "KillMode=process",
    "Restart=always",
    "RestartSec=5",
    // Containers inherit these limits; the kernel's are the only sensible ones.
    "LimitNPROC=infinity",
    "LimitCORE=infinity",
    "LimitNOFILE=infinity",
    "TasksMax=infinity",
    // Under memory pressure the OOM killer should pick a container, not the runtime.
    "OOMScoreAdjust=-999",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

export interface MirrorHost {
  /** Registry host as pulled from (docker.io), or _default. */
  registry: string;
  endpoints: Array<{ url: string; caPath?: string }>;
}

/** The registry's own address, as containerd's hosts.toml `server` names it. */
function upstreamServer(registry: string): string | undefined {
  if (registry === "_default") return undefined;
  return registry === "docker.io" ? "https://registry-1.docker.io" : `https://${registry}`;
}

/** How a hosts.toml kube-rootfs wrote begins (a later run removes one the goal has dropped). */
export const hostsTomlHeader = (registry: string) => `# ${registry}: written by kube-rootfs;`;

/** certs.d/<host>/hosts.toml: the mirrors in order, then the registry itself. */
export function renderHostsToml(m: MirrorHost): string {
  const server = upstreamServer(m.registry);
  return [
    `${hostsTomlHeader(m.registry)} changes are replaced on the next provision.`,
    ...(server ? [`server = ${q(server)}`] : []),
    ...m.endpoints.flatMap((e) => [
      "",
      `[host.${q(e.url)}]`,
      `  capabilities = ["pull", "resolve"]`,
      ...(e.caPath ? [`  ca = ${q(e.caPath)}`] : []),
    ]),
    "",
  ].join("\n");
}
