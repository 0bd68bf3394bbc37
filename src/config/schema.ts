// The goal state: the one source of truth for every setting. Flags, env names and the
// docs' configuration reference are derived from this schema (see fields.ts), never listed twice.
import { z } from "zod";
import { parseImageRef } from "../oci/ref";
import { ARCH_NAMES, toArch } from "../host/arch";

export { ARCHES, type Arch } from "../host/arch";

// A run parses its goal once or twice: zod's compiled fast path (new Function per schema) costs
// more to build than it saves (measured: a first parse ~10 ms compiled, ~4 ms without).
z.config({ jitless: true });

/** Artifacts the pipeline installs, each with its own download overrides. */
export const ARTIFACTS = ["kubelet", "kubectl", "kubeProxy", "crictl", "containerd", "runc", "cni"] as const;
export type ArtifactName = (typeof ARTIFACTS)[number];

export const BOOTSTRAP_METHODS = ["bootstrap", "tarball", "image", "none"] as const;
export const GPU_MODES = ["auto", "nvidia", "none"] as const;
export const BOOTSTRAP_TOOLS = ["auto", "debootstrap", "mmdebstrap"] as const;
export const SWAP_CHOICES = ["keep", "off"] as const;
/** The tool a bootstrap runs, once `auto` is decided. */
export type BootstrapTool = Exclude<(typeof BOOTSTRAP_TOOLS)[number], "auto">;

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const VERSION = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

const IMAGE = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;
/** containerd's certs.d directory names: host[:port], or _default for every registry. */
const REGISTRY_HOST = /^(_default|[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:\d{1,5})?)$/;
const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)$/;

/** A Go duration as KubeletConfiguration takes it: 30s, 2m, 1m30s, 1h. */
const DURATION = /^(?=\d)(\d+h)?(\d+m)?(\d+s)?$/;
/** Seconds in a duration the schema accepted. */
export const durationSeconds = (d: string) => [...d.matchAll(/(\d+)([hms])/g)].reduce((t, m) => t + Number(m[1]) * { h: 3600, m: 60, s: 1 }[m[2] as "h" | "m" | "s"], 0);
const duration = () => z.string().regex(DURATION, "expected a duration like 30s, 2m or 1m30s");

const absPath = () => z.string().regex(/^\//, "expected an absolute path");
const version = () =>
  z
    .string()
    .regex(VERSION, "expected a version like 1.33.1")
    .transform((v) => v.replace(/^v/, ""));
const sha256 = () =>
  z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits")
    .transform((h) => h.toLowerCase());
const url = (schemes: string[]) =>
  z.string().refine((s) => {
    try {
      return schemes.includes(new URL(s).protocol.replace(/:$/, ""));
    } catch {
      return false;
    }
  }, `expected a ${schemes.join("/")} URL`);

const mirrorEndpoint = z.union([
  url(["http", "https"]),
  z.strictObject({
    url: url(["http", "https"]),
    ca: absPath().optional().describe("CA certificate file on the host for this endpoint, copied into the machine"),
  }),
]);
export type MirrorEndpoint = z.output<typeof mirrorEndpoint>;

const download = z
  .strictObject({
    baseURL: url(["http", "https", "file"])
      .optional()
      .describe("mirror in the upstream layout for this artifact"),
    url: z
      .string()
      .min(1)
      .optional()
      .describe("full URL template; placeholders {version} {arch} {os} {binary}"),
    version: version().optional().describe("this artifact's version, overriding versions.*"),
    sha256: sha256().optional().describe("pinned sha256 of the asset; beats the published checksum"),
  })
  .prefault({});

const DEFAULT_PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "curl", "ca-certificates", "iproute2", "nftables",
  "kmod", "udev", "procps", "nano", "wireguard-tools",
];

export const GoalSchema = z.strictObject({
  machine: z.string().regex(NAME, "expected a machine name ([a-zA-Z0-9._-], up to 63)").default("kube1").describe("machine name"),
  machineDir: absPath().optional().describe("rootfs directory (default /var/lib/machines/<machine>)"),
  nspawnConfigFile: absPath().optional().describe("nspawn settings file (default /etc/systemd/nspawn/<machine>.nspawn)"),
  serviceOverrideFile: absPath()
    .optional()
    .describe("service drop-in (default /etc/systemd/system/systemd-nspawn@<machine>.service.d/override.conf)"),

  arch: z
    .enum(ARCH_NAMES)
    .transform((a) => toArch(a)!)
    .optional()
    .describe("target architecture, Debian's name or uname -m's (detected from the host)"),
  hostname: z.string().regex(HOSTNAME, "expected a hostname").optional().describe("hostname written into the rootfs (the host's)"),
  hostKernel: z.string().min(1).optional().describe("host kernel release, for /lib/modules (detected)"),
  hostDevices: z.array(absPath()).optional().describe("device nodes bound into the machine (detected: /dev/kvm /dev/net/tun /dev/fuse)"),
  hostModules: z.boolean().optional().describe("bind the host's /lib/modules read-only (detected: present on the host)"),
  hostResolvConf: absPath().optional().describe("resolver file copied into the rootfs (detected, skipping the 127.0.0.53 stub)"),

  versions: z
    .strictObject({
      kubernetes: version().default("1.33.1").meta({ flag: "kubernetes-version" }).describe("Kubernetes version"),
      containerd: version().default("2.0.4").meta({ flag: "containerd-version" }).describe("containerd version"),
      runc: version().default("1.1.12").meta({ flag: "runc-version" }).describe("runc version"),
      cni: version().default("1.5.1").meta({ flag: "cni-version" }).describe("CNI plugins version"),
      crictl: version().optional().meta({ flag: "crictl-version" }).describe("crictl version (default <k8s major>.<minor>.0)"),
    })
    .prefault({}),

  mirror: url(["http", "https", "file"]).optional().describe("sets every artifact's base URL to <mirror>/<artifact dir>"),
  downloads: z
    .strictObject(Object.fromEntries(ARTIFACTS.map((a) => [a, download])) as Record<ArtifactName, typeof download>)
    .prefault({}),

  bootstrap: z
    .strictObject({
      method: z.enum(BOOTSTRAP_METHODS).default("bootstrap").describe("how an empty machine dir gets its rootfs: bootstrap (with bootstrap.tool), tarball, none (bring your own)"),
      tool: z.enum(BOOTSTRAP_TOOLS).default("auto").describe("bootstrap tool (auto: mmdebstrap when installed, else debootstrap)"),
      suite: z
        .string()
        .regex(/^[a-z][a-z0-9-]*$/, "expected a suite name like noble")
        .optional()
        .describe("distribution suite (default: the host's own when Debian or Ubuntu, else noble)"),
      mirror: url(["http", "https", "file"])
        .optional()
        .describe("package mirror (default: the host's apt mirror for the host's own suite, else the distribution's archive)"),
      components: z.array(z.string().regex(/^[a-z0-9-]+$/)).optional().describe("archive components (default: main,universe for Ubuntu, main for Debian)"),
      include: z
        .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, "expected a package name"))
        .default(DEFAULT_PACKAGES)
        .describe("packages installed by the bootstrap"),
      keyring: absPath().optional().describe("archive keyring for the bootstrap"),
      tarball: z.string().min(1).optional().describe("rootfs snapshot (path or URL) for method tarball"),
      sha256: sha256().optional().describe("sha256 of bootstrap.tarball"),
      image: z
        .string()
        .min(1)
        .superRefine((ref, ctx) => {
          try {
            parseImageRef(ref);
          } catch (err) {
            ctx.addIssue({ code: "custom", input: ref, message: (err as Error).message.replace(`image reference ${ref}: `, "not an image reference: ") });
          }
        })
        .optional()
        .describe("rootfs image for method image: registry/repo:tag, registry/repo@sha256:…, oci-layout:DIR[:tag], oci-archive:FILE"),
    })
    .superRefine((b, ctx) => {
      if (b.method === "image" && !b.image) ctx.addIssue({ code: "custom", path: ["image"], message: "required with bootstrap.method image (an image reference)" });

      // The air-gapped path restores exactly the snapshot that was carried in, or nothing.
      if (b.method !== "tarball") return;
      if (!b.tarball) ctx.addIssue({ code: "custom", path: ["tarball"], message: "required with bootstrap.method tarball (a path or URL)" });
      if (!b.sha256) ctx.addIssue({ code: "custom", path: ["sha256"], message: "required with bootstrap.method tarball (64 hex digits)" });
    })
    .prefault({}),

  images: z
    .array(z.string().regex(IMAGE, "expected an image reference like registry.example:5000/app:1.0"))
    .default([])
    .describe("container images pre-loaded into containerd (from the bundle with --offline), beside runtime.sandboxImage, which always is"),

  gpu: z
    .strictObject({
      mode: z
        .enum(GPU_MODES)
        .default("auto")
        .describe("NVIDIA GPUs passed into the machine: auto (when the host has /dev/nvidiactl and a /dev/nvidiaN), nvidia (required), none"),
      hostRoot: absPath()
        .default("/")
        .describe("where the host's /dev, /proc, /sys, driver libraries and ld.so.cache are read from (another root: a test's fake host)"),
    })
    .prefault({}),

  host: z
    .strictObject({
      root: absPath()
        .default("/")
        .describe("the host's root: its /proc/sys, /proc/swaps, /etc and /var/lib are read and written under it (another root: a test's fake host)"),
      sysctls: z
        .boolean()
        .default(true)
        .describe("write the kernel settings the node needs to the host's /etc/sysctl.d and apply them; false: never change the host, and a setting it lacks blocks the run"),
      swap: z
        .enum(SWAP_CHOICES)
        .default("keep")
        .describe("active swap on the host: keep (kubelet tolerates it, pods never use it; Kubernetes 1.30+) or off (swapoff now, its /etc/fstab lines commented out)"),
    })
    .prefault({}),

  runtime: z
    .strictObject({
      sandboxImage: z
        .string()
        .regex(IMAGE, "expected an image reference like registry.k8s.io/pause:3.10")
        .default("registry.k8s.io/pause:3.10")
        .describe("pod sandbox (pause) image containerd keeps; always pre-loaded"),
      registryMirrors: z
        .record(z.string().regex(REGISTRY_HOST, "expected a registry host like docker.io or registry.example:5000"), z.array(mirrorEndpoint).min(1))
        .optional()
        .describe("registry host → mirror endpoints, written to etc/containerd/certs.d (flag: host=url,…; in a file each endpoint may be {url, ca})"),
    })
    .prefault({}),

  kubelet: z
    .strictObject({
      clusterDNS: z.array(z.string().regex(IP, "expected an IP address")).default(["10.96.0.10"]).describe("cluster DNS service addresses"),
      clusterDomain: z.string().regex(HOSTNAME, "expected a domain").default("cluster.local").describe("cluster DNS domain"),
      bootstrapKubeconfig: absPath()
        .optional()
        .describe("bootstrap kubeconfig on the host (join material), copied in as etc/kubernetes/bootstrap-kubelet.conf"),
      shutdownGracePeriod: duration()
        .default("30s")
        .describe("kubelet's graceful node shutdown: how long pods get when the machine powers off (the machine's logind allows this delay)"),
      shutdownGracePeriodCriticalPods: duration()
        .default("10s")
        .describe("the part of shutdownGracePeriod kept for critical pods"),
    })
    .superRefine((k, ctx) => {
      if (durationSeconds(k.shutdownGracePeriodCriticalPods) > durationSeconds(k.shutdownGracePeriod)) {
        ctx.addIssue({ code: "custom", path: ["shutdownGracePeriodCriticalPods"], message: `must not exceed kubelet.shutdownGracePeriod (${k.shutdownGracePeriod}), of which it is a part` });
      }
    })
    .prefault({}),

  cluster: z
    .strictObject({
      kubeconfig: absPath()
        .optional()
        .meta({ flag: "kubeconfig" })
        .describe(
          "kubeconfig of an identity allowed to cordon and drain this node (examples/node-updater-rbac.yaml), for upgrade, rollback and status; without it the node's own kubelet.conf serves the read-only checks",
        ),
    })
    .prefault({}),

  registry: z
    .strictObject({
      auth: absPath().optional().describe("Docker config.json with registry credentials (default $DOCKER_CONFIG/config.json, ~/.docker/config.json)"),
      ca: absPath().optional().describe("CA certificates (PEM) trusted for registries"),
      insecure: z
        .array(z.string().min(1))
        .default([])
        .meta({ flag: "insecure-registry" })
        .describe("registry hosts allowed plain HTTP (loopback always is)"),
    })
    .prefault({}),

  cacheDir: absPath().default("/var/cache/kube-rootfs").describe("download and snapshot cache"),
  offline: z.boolean().default(false).describe("never use the network; everything comes from the cache"),
  lock: z.string().min(1).optional().describe("kube-rootfs.lock whose sha256 every artifact must match (beats checksum files)"),
  retries: z.number().int().min(1).max(20).default(4).describe("download attempts per file"),
  concurrency: z.number().int().min(1).max(32).default(4).describe("downloads in flight at once"),
  timeouts: z
    .strictObject({
      stall: z.number().positive().default(30).describe("seconds without a byte before a download is retried"),
      total: z.number().positive().default(1800).describe("seconds one download may take in all"),
    })
    .prefault({}),
  maxDownloadBytes: z.number().int().positive().default(2 * 1024 ** 3).describe("largest response accepted"),
  logFormat: z.enum(["pretty", "json"]).optional().describe("log format (json when stdout is not a TTY)"),
  skipPhases: z.array(z.string().min(1)).default([]).describe("phases or tasks to skip, e.g. kube,cri,cni"),
});

export type GoalInput = z.input<typeof GoalSchema>;
export type Goal = z.output<typeof GoalSchema>;
