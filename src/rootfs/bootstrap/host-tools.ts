// The host commands each way of filling a rootfs runs: those it calls itself and those the
// bootstrap tool calls in turn (mmdebstrap's arch-test for a foreign arch, debootstrap's gpgv
// and wget). Readiness checks every one before a run starts, so a missing one is named with its
// package instead of failing a bootstrap half a minute in. Pure: the host's arch is an argument.
import type { Arch } from "../../config/schema";
import type { RootfsSource } from ".";
import type { BootstrapPlan } from "./plan";
import { localTarball } from "./tarball";

/** A command the run needs, and why (shown when it is missing). */
export interface HostTool {
  cmd: string;
  why: string;
}

/** A command whose absence only costs something (speed, a format), and what. */
export interface WantedTool {
  cmd: string;
  without: string;
}

export interface HostTools {
  need: HostTool[];
  want: WantedTool[];
}

// Every filled staging dir is flushed (sync --file-system) before it is renamed into place, and
// one left by a killed run is unmounted (umount) before it is removed.
const STAGING: HostTool[] = [
  { cmd: "sync", why: "flushes the new rootfs to disk before it is moved into place" },
  { cmd: "umount", why: "detaches what a killed run left mounted in its staging dir" },
];

const SNAPSHOT_ZSTD: WantedTool = { cmd: "zstd", without: "snapshots are kept with gzip, slower" };

function bootstrapTools(plan: BootstrapPlan, host: Arch): HostTool[] {
  const foreign = plan.arch !== host;
  if (plan.tool === "mmdebstrap") {
    return [
      { cmd: "mmdebstrap", why: "bootstraps the rootfs" },
      ...(foreign ? [{ cmd: "arch-test", why: `mmdebstrap needs it to bootstrap another architecture (${plan.arch} on an ${host} host)` }] : []),
      { cmd: "mount", why: "mmdebstrap mounts /proc, /sys and /dev in the new rootfs" },
      { cmd: "chroot", why: "mmdebstrap runs the packages' maintainer scripts in the new rootfs" },
    ];
  }
  return [
    { cmd: "debootstrap", why: "bootstraps the rootfs" },
    // the bootstrap forces signature checks (--force-check-gpg), which debootstrap runs gpgv for
    { cmd: "gpgv", why: "debootstrap checks the archive's signature with it" },
    ...(/^https?:/.test(plan.mirror) ? [{ cmd: "wget", why: `debootstrap downloads from ${plan.mirror} with it` }] : []),
    { cmd: "mount", why: "debootstrap mounts /proc and /sys in the new rootfs" },
    { cmd: "chroot", why: "debootstrap runs its second stage in the new rootfs" },
  ];
}

const tar = (why: string): HostTool => ({ cmd: "tar", why });
const zstdIf = (file: string, why: string): HostTool[] => (file.endsWith(".zst") ? [{ cmd: "zstd", why }] : []);

/** What filling a rootfs from `source` runs on a `host` host. */
export function hostTools(source: RootfsSource, host: Arch): HostTools {
  switch (source.kind) {
    case "bootstrap":
      return { need: [...bootstrapTools(source.plan, host), tar("keeps the bootstrap as a snapshot"), ...STAGING], want: [SNAPSHOT_ZSTD] };
    case "snapshot":
      return { need: [tar("restores the snapshot"), ...zstdIf(source.file, `decompresses the snapshot ${source.file}`), ...STAGING], want: [] };
    case "tarball": {
      // a URL's compression is known only once it is downloaded
      const file = localTarball(source.tarball.tarball);
      return {
        need: [tar("restores the tarball"), ...(file ? zstdIf(file, `decompresses the tarball ${file}`) : []), ...STAGING],
        want: file ? [] : [{ cmd: "zstd", without: "a zstd-compressed tarball cannot be restored" }],
      };
    }
    case "image":
      return {
        need: [
          { cmd: "setfattr", why: "sets the layers' extended attributes (file capabilities among them)" },
          { cmd: "mknod", why: "creates the layers' device nodes and fifos" },
          ...STAGING,
        ],
        want: [],
      };
  }
}
