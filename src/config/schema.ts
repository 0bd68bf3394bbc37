// The goal state: the one source of truth for every setting. Flags, env names and the
// docs' configuration reference are derived from this schema (see fields.ts), never listed twice.
import { parseImageRef } from "../oci/ref";
import { ARCH_NAMES, toArch } from "../host/arch";
import { z } from "../zod";

export { ARCHES, type Arch } from "../host/arch";

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

/** A field's description, and its flag when that is not its path's: fields-derive.ts reads them back. */
function about<T extends z.core.$ZodType>(schema: T, description: string, flag?: string): T {
  z.globalRegistry.add(schema, flag ? { flag, description } : { description });
  return schema;
}

/** A string schema with its checks, as z.string().check(...) makes it but one instance instead of two. */
const text = (...checks: z.core.$ZodCheck<string>[]) => new z.ZodMiniString({ type: "string", checks });
/** A number schema with its checks, likewise. */
const num = (...checks: z.core.$ZodCheck<number>[]) => new z.ZodMiniNumber({ type: "number", checks });
const matching = (re: RegExp, message?: string) => text(z.regex(re, message));
const url = (schemes: string[]) =>
  text(
    z.refine((s) => {
      try {
        return schemes.includes(new URL(s).protocol.replace(/:$/, ""));
      } catch {
        return false;
      }
    }, `expected a ${schemes.join("/")} URL`),
  );

// The value schemas several fields share: a schema is immutable, and each field registers its
// description on a wrapper of its own (optional, default), so one instance of each serves them all.
const nonEmpty = text(z.minLength(1));
const duration = matching(DURATION, "expected a duration like 30s, 2m or 1m30s");
const absPath = matching(/^\//, "expected an absolute path");
const version = z.pipe(
  matching(VERSION, "expected a version like 1.33.1"),
  z.transform((v: string) => v.replace(/^v/, "")),
);
const sha256 = z.pipe(
  matching(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits"),
  z.transform((h: string) => h.toLowerCase()),
);
const webURL = url(["http", "https"]);
const sourceURL = url(["http", "https", "file"]);
const positive = num(z.positive());

const mirrorEndpoint = z.union([
  webURL,
  z.strictObject({
    url: webURL,
    ca: about(z.optional(absPath), "CA certificate file on the host for this endpoint, copied into the machine"),
  }),
]);
export type MirrorEndpoint = z.output<typeof mirrorEndpoint>;

const download = z.prefault(
  z.strictObject({
    baseURL: about(z.optional(sourceURL), "mirror in the upstream layout for this artifact"),
    url: about(z.optional(nonEmpty), "full URL template; placeholders {version} {arch} {os} {binary}"),
    version: about(z.optional(version), "this artifact's version, overriding versions.*"),
    sha256: about(z.optional(sha256), "pinned sha256 of the asset; beats the published checksum"),
  }),
  {},
);

const DEFAULT_PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "curl", "ca-certificates", "iproute2", "nftables",
  "kmod", "udev", "procps", "nano", "wireguard-tools",
];

export const GoalSchema = z.strictObject({
  machine: about(z._default(matching(NAME, "expected a machine name ([a-zA-Z0-9._-], up to 63)"), "kube1"), "machine name"),
  machineDir: about(z.optional(absPath), "rootfs directory (default /var/lib/machines/<machine>)"),
  nspawnConfigFile: about(z.optional(absPath), "nspawn settings file (default /etc/systemd/nspawn/<machine>.nspawn)"),
  serviceOverrideFile: about(
    z.optional(absPath),
    "service drop-in (default /etc/systemd/system/systemd-nspawn@<machine>.service.d/override.conf)",
  ),

  arch: about(
    z.optional(z.pipe(z.enum(ARCH_NAMES), z.transform((a: (typeof ARCH_NAMES)[number]) => toArch(a)!))),
    "target architecture, Debian's name or uname -m's (detected from the host)",
  ),
  hostname: about(z.optional(matching(HOSTNAME, "expected a hostname")), "hostname written into the rootfs (the host's)"),
  hostKernel: about(z.optional(nonEmpty), "host kernel release, for /lib/modules (detected)"),
  hostDevices: about(z.optional(z.array(absPath)), "device nodes bound into the machine (detected: /dev/kvm /dev/net/tun /dev/fuse)"),
  hostModules: about(z.optional(z.boolean()), "bind the host's /lib/modules read-only (detected: present on the host)"),
  hostResolvConf: about(z.optional(absPath), "resolver file copied into the rootfs (detected, skipping the 127.0.0.53 stub)"),

  versions: z.prefault(
    z.strictObject({
      kubernetes: about(z._default(version, "1.33.1"), "Kubernetes version", "kubernetes-version"),
      containerd: about(z._default(version, "2.0.4"), "containerd version", "containerd-version"),
      runc: about(z._default(version, "1.1.12"), "runc version", "runc-version"),
      cni: about(z._default(version, "1.5.1"), "CNI plugins version", "cni-version"),
      crictl: about(z.optional(version), "crictl version (default <k8s major>.<minor>.0)", "crictl-version"),
    }),
    {},
  ),

  mirror: about(z.optional(sourceURL), "sets every artifact's base URL to <mirror>/<artifact dir>"),
  downloads: z.prefault(z.strictObject(Object.fromEntries(ARTIFACTS.map((a) => [a, download])) as Record<ArtifactName, typeof download>), {}),

  bootstrap: z.prefault(
    z
      .strictObject({
        method: about(
          z._default(z.enum(BOOTSTRAP_METHODS), "bootstrap"),
          "how an empty machine dir gets its rootfs: bootstrap (with bootstrap.tool), tarball, none (bring your own)",
        ),
        tool: about(z._default(z.enum(BOOTSTRAP_TOOLS), "auto"), "bootstrap tool (auto: mmdebstrap when installed, else debootstrap)"),
        suite: about(
          z.optional(matching(/^[a-z][a-z0-9-]*$/, "expected a suite name like noble")),
          "distribution suite (default: the host's own when Debian or Ubuntu, else noble)",
        ),
        mirror: about(
          z.optional(sourceURL),
          "package mirror (default: the host's apt mirror for the host's own suite, else the distribution's archive)",
        ),
        components: about(z.optional(z.array(matching(/^[a-z0-9-]+$/))), "archive components (default: main,universe for Ubuntu, main for Debian)"),
        include: about(
          z._default(z.array(matching(/^[a-z0-9][a-z0-9+.-]*$/, "expected a package name")), DEFAULT_PACKAGES),
          "packages installed by the bootstrap",
        ),
        keyring: about(z.optional(absPath), "archive keyring for the bootstrap"),
        tarball: about(z.optional(nonEmpty), "rootfs snapshot (path or URL) for method tarball"),
        sha256: about(z.optional(sha256), "sha256 of bootstrap.tarball"),
        image: about(
          z.optional(
            nonEmpty.check(
              z.superRefine((ref, ctx) => {
                try {
                  parseImageRef(ref);
                } catch (err) {
                  ctx.addIssue({ code: "custom", input: ref, message: (err as Error).message.replace(`image reference ${ref}: `, "not an image reference: ") });
                }
              }),
            ),
          ),
          "rootfs image for method image: registry/repo:tag, registry/repo@sha256:…, oci-layout:DIR[:tag], oci-archive:FILE",
        ),
      })
      .check(
        z.superRefine((b, ctx) => {
          if (b.method === "image" && !b.image) ctx.addIssue({ code: "custom", path: ["image"], message: "required with bootstrap.method image (an image reference)" });

          // The air-gapped path restores exactly the snapshot that was carried in, or nothing.
          if (b.method !== "tarball") return;
          if (!b.tarball) ctx.addIssue({ code: "custom", path: ["tarball"], message: "required with bootstrap.method tarball (a path or URL)" });
          if (!b.sha256) ctx.addIssue({ code: "custom", path: ["sha256"], message: "required with bootstrap.method tarball (64 hex digits)" });
        }),
      ),
    {},
  ),

  images: about(
    z._default(z.array(matching(IMAGE, "expected an image reference like registry.example:5000/app:1.0")), []),
    "container images pre-loaded into containerd (from the bundle with --offline), beside runtime.sandboxImage, which always is",
  ),

  gpu: z.prefault(
    z.strictObject({
      mode: about(
        z._default(z.enum(GPU_MODES), "auto"),
        "NVIDIA GPUs passed into the machine: auto (when the host has /dev/nvidiactl and a /dev/nvidiaN), nvidia (required), none",
      ),
      hostRoot: about(
        z._default(absPath, "/"),
        "where the host's /dev, /proc, /sys, driver libraries and ld.so.cache are read from (another root: a test's fake host)",
      ),
    }),
    {},
  ),

  host: z.prefault(
    z.strictObject({
      root: about(
        z._default(absPath, "/"),
        "the host's root: its /proc/sys, /proc/swaps, /etc and /var/lib are read and written under it (another root: a test's fake host)",
      ),
      sysctls: about(
        z._default(z.boolean(), true),
        "write the kernel settings the node needs to the host's /etc/sysctl.d and apply them; false: never change the host, and a setting it lacks blocks the run",
      ),
      swap: about(
        z._default(z.enum(SWAP_CHOICES), "keep"),
        "active swap on the host: keep (kubelet tolerates it, pods never use it; Kubernetes 1.30+) or off (swapoff now, its /etc/fstab lines commented out)",
      ),
    }),
    {},
  ),

  runtime: z.prefault(
    z.strictObject({
      sandboxImage: about(
        z._default(matching(IMAGE, "expected an image reference like registry.k8s.io/pause:3.10"), "registry.k8s.io/pause:3.10"),
        "pod sandbox (pause) image containerd keeps; always pre-loaded",
      ),
      registryMirrors: about(
        z.optional(
          z.record(
            matching(REGISTRY_HOST, "expected a registry host like docker.io or registry.example:5000"),
            z.array(mirrorEndpoint).check(z.minLength(1)),
          ),
        ),
        "registry host → mirror endpoints, written to etc/containerd/certs.d (flag: host=url,…; in a file each endpoint may be {url, ca})",
      ),
    }),
    {},
  ),

  kubelet: z.prefault(
    z
      .strictObject({
        clusterDNS: about(z._default(z.array(matching(IP, "expected an IP address")), ["10.96.0.10"]), "cluster DNS service addresses"),
        clusterDomain: about(z._default(matching(HOSTNAME, "expected a domain"), "cluster.local"), "cluster DNS domain"),
        bootstrapKubeconfig: about(
          z.optional(absPath),
          "bootstrap kubeconfig on the host (join material), copied in as etc/kubernetes/bootstrap-kubelet.conf",
        ),
        shutdownGracePeriod: about(
          z._default(duration, "30s"),
          "kubelet's graceful node shutdown: how long pods get when the machine powers off (the machine's logind allows this delay)",
        ),
        shutdownGracePeriodCriticalPods: about(z._default(duration, "10s"), "the part of shutdownGracePeriod kept for critical pods"),
      })
      .check(
        z.superRefine((k, ctx) => {
          if (durationSeconds(k.shutdownGracePeriodCriticalPods) > durationSeconds(k.shutdownGracePeriod)) {
            ctx.addIssue({ code: "custom", path: ["shutdownGracePeriodCriticalPods"], message: `must not exceed kubelet.shutdownGracePeriod (${k.shutdownGracePeriod}), of which it is a part` });
          }
        }),
      ),
    {},
  ),

  cluster: z.prefault(
    z.strictObject({
      kubeconfig: about(
        z.optional(absPath),
        "kubeconfig of an identity allowed to cordon and drain this node (examples/node-updater-rbac.yaml), for upgrade, rollback and status; without it the node's own kubelet.conf serves the read-only checks",
        "kubeconfig",
      ),
    }),
    {},
  ),

  registry: z.prefault(
    z.strictObject({
      auth: about(z.optional(absPath), "Docker config.json with registry credentials (default $DOCKER_CONFIG/config.json, ~/.docker/config.json)"),
      ca: about(z.optional(absPath), "CA certificates (PEM) trusted for registries"),
      insecure: about(z._default(z.array(nonEmpty), []), "registry hosts allowed plain HTTP (loopback always is)", "insecure-registry"),
    }),
    {},
  ),

  cacheDir: about(z._default(absPath, "/var/cache/kube-rootfs"), "download and snapshot cache"),
  offline: about(z._default(z.boolean(), false), "never use the network; everything comes from the cache"),
  lock: about(z.optional(nonEmpty), "kube-rootfs.lock whose sha256 every artifact must match (beats checksum files)"),
  retries: about(z._default(num(z.int(), z.gte(1), z.lte(20)), 4), "download attempts per file"),
  concurrency: about(z._default(num(z.int(), z.gte(1), z.lte(32)), 4), "downloads in flight at once"),
  timeouts: z.prefault(
    z.strictObject({
      stall: about(z._default(positive, 30), "seconds without a byte before a download is retried"),
      total: about(z._default(positive, 1800), "seconds one download may take in all"),
    }),
    {},
  ),
  maxDownloadBytes: about(z._default(num(z.int(), z.positive()), 2 * 1024 ** 3), "largest response accepted"),
  logFormat: about(z.optional(z.enum(["pretty", "json"])), "log format (json when stdout is not a TTY)"),
  skipPhases: about(z._default(z.array(nonEmpty), []), "phases or tasks to skip, e.g. kube,cri,cni"),
});

export type GoalInput = z.input<typeof GoalSchema>;
export type Goal = z.output<typeof GoalSchema>;
