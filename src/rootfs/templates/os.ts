// Small OS files the node needs inside the rootfs.
import type { AptSource } from "../../config/distro";

/** systemd-tmpfiles line: kubelet reads /dev/kmsg, which a container lacks. */
export const renderKmsgConf = () => "L /dev/kmsg - - - - /dev/console\n";

/** Kernel modules containerd and kube-proxy need, loaded at boot. */
export const renderModulesLoad = () => "overlay\nbr_netfilter\n";

export const renderHostname = (hostname: string) => `${hostname}\n`;

export function renderSourcesList(sources: AptSource[]): string {
  return ["# written by kube-rootfs", ...sources.map((s) => `deb ${s.uri} ${s.suite} ${s.components.join(" ")}`), ""].join("\n");
}

/** The host's resolvers as a static file (systemd-resolved is masked inside). */
export function renderResolvConf(hostContent: string, from: string): string {
  const body = hostContent.endsWith("\n") || hostContent === "" ? hostContent : hostContent + "\n";
  return `# copied from the host's ${from} by kube-rootfs\n${body}`;
}
