// Node-wide files: crictl's endpoints and the kernel settings pod networking needs.
import { CONTAINERD_SOCKET } from "./containerd";

export function renderCrictlYaml(): string {
  return [
    "# written by kube-rootfs; changes are replaced on the next provision.",
    `runtime-endpoint: ${CONTAINERD_SOCKET}`,
    `image-endpoint: ${CONTAINERD_SOCKET}`,
    "timeout: 10",
    "",
  ].join("\n");
}

export function renderSysctl(): string {
  return [
    "# written by kube-rootfs; changes are replaced on the next provision.",
    // Pods reach the world and each other through the node: it must route.
    "net.ipv4.ip_forward = 1",
    // Bridged pod traffic must pass iptables for Services to work. "-": the keys exist only
    // once br_netfilter is loaded, which the host may not allow the machine to do.
    "-net.bridge.bridge-nf-call-iptables = 1",
    "-net.bridge.bridge-nf-call-ip6tables = 1",
    "",
  ].join("\n");
}
