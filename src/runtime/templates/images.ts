// The first-boot unit that imports the pre-loaded image archives into containerd's k8s.io
// namespace: after containerd, before kubelet, once per image set (a stamp named by the set).

export const IMAGES_MACHINE_DIR = "/var/lib/kube-rootfs/images";
export const IMAGES_UNIT = "kube-rootfs-images.service";

/** The stamp the unit leaves once it imported exactly these archives: a new set imports again. */
export function importStamp(archives: string[]): string {
  const hex = new Bun.CryptoHasher("sha256").update([...archives].sort().join("\n")).digest("hex");
  return `${IMAGES_MACHINE_DIR}/imported-${hex.slice(0, 16)}`;
}

export function renderImagesUnit(archives: string[]): string {
  const stamp = importStamp(archives);
  return [
    "# written by kube-rootfs; changes are replaced on the next provision.",
    "[Unit]",
    "Description=Import pre-loaded container images into containerd (k8s.io)",
    "Requires=containerd.service",
    "After=containerd.service",
    "Before=kubelet.service",
    `ConditionPathExists=!${stamp}`,
    "",
    "[Service]",
    "Type=oneshot",
    ...[...archives].sort().map((a) => `ExecStart=/usr/local/bin/ctr -n k8s.io images import ${IMAGES_MACHINE_DIR}/${a}`),
    `ExecStartPost=/usr/bin/touch ${stamp}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
