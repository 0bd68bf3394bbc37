// The two files that make the bound driver libraries usable: the machine's own linker cache,
// rebuilt at every boot (the binds appear only when nspawn starts), and the CDI hook that does
// the same inside each container given a GPU.
import { LDCACHE_HOOK } from "./cdi";

export const GPU_LDCONFIG_UNIT = "kube-rootfs-gpu-ldconfig.service";

export function renderGpuLdconfigUnit(): string {
  return [
    "# written by kube-rootfs; changes are replaced on the next provision.",
    "[Unit]",
    "Description=Dynamic linker cache and soname links for the NVIDIA driver files bound from the host",
    "After=local-fs.target",
    "Before=containerd.service kubelet.service",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    "ExecStart=/sbin/ldconfig",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * A createContainer hook: the OCI state on stdin names the bundle, whose rootfs (containerd's
 * layout) gets its cache rebuilt with the library dirs given as arguments. An image without
 * /etc (scratch) has no dynamic linker to serve.
 */
export function renderLdcacheHook(): string {
  return [
    "#!/bin/sh",
    `# ${LDCACHE_HOOK}: written by kube-rootfs; changes are replaced on the next provision.`,
    "set -eu",
    `bundle=$(sed -n 's/.*"bundle"[[:space:]]*:[[:space:]]*"\\([^"]*\\)".*/\\1/p')`,
    `[ -n "$bundle" ] || { echo "cdi-ldcache: no bundle in the OCI state on stdin" >&2; exit 1; }`,
    `[ -d "$bundle/rootfs/etc" ] || exit 0`,
    `exec /sbin/ldconfig -r "$bundle/rootfs" "$@"`,
    "",
  ].join("\n");
}
