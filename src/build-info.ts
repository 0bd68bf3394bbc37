// Filled in by scripts/build.ts (bun build --define); a `bun run` from source says "dev".
declare const KUBE_ROOTFS_VERSION: string | undefined;
declare const KUBE_ROOTFS_COMMIT: string | undefined;
declare const KUBE_ROOTFS_TARGET: string | undefined;

export const buildInfo = {
  version: typeof KUBE_ROOTFS_VERSION === "string" ? KUBE_ROOTFS_VERSION : "dev",
  commit: typeof KUBE_ROOTFS_COMMIT === "string" ? KUBE_ROOTFS_COMMIT : "unknown",
  target: typeof KUBE_ROOTFS_TARGET === "string" ? KUBE_ROOTFS_TARGET : `bun-${process.platform}-${process.arch}`,
};
