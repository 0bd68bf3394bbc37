// kubelet inside the machine: a unit that waits for join material, the drop-in with its
// command line, and its KubeletConfiguration.
import { CONTAINERD_SOCKET } from "./containerd";

export const KUBELET_CONFIG = "/var/lib/kubelet/config.yaml";
export const KUBECONFIG = "/etc/kubernetes/kubelet.conf";
export const BOOTSTRAP_KUBECONFIG = "/etc/kubernetes/bootstrap-kubelet.conf";
export const CLUSTER_CA = "/etc/kubernetes/pki/ca.crt";

export function renderKubeletUnit(): string {
  return [
    "# written by kube-rootfs; changes are replaced on the next provision.",
    "[Unit]",
    "Description=kubelet: the Kubernetes node agent",
    "Documentation=https://kubernetes.io/docs/",
    "Wants=network-online.target containerd.service",
    "After=network-online.target containerd.service",
    // Without join material kubelet can only crash-loop: the unit stays inactive until one of
    // the kubeconfigs exists ("|": either is enough).
    `ConditionPathExists=|${KUBECONFIG}`,
    `ConditionPathExists=|${BOOTSTRAP_KUBECONFIG}`,
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "ExecStart=/usr/local/bin/kubelet",
    "Restart=always",
    "RestartSec=10",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

export function renderKubeletDropIn(): string {
  return [
    "# written by kube-rootfs; changes are replaced on the next provision.",
    "[Service]",
    "ExecStart=",
    `ExecStart=/usr/local/bin/kubelet --config=${KUBELET_CONFIG} --kubeconfig=${KUBECONFIG} --bootstrap-kubeconfig=${BOOTSTRAP_KUBECONFIG}`,
    "",
  ].join("\n");
}

export interface KubeletConfigInput {
  clusterDNS: string[];
  clusterDomain: string;
  shutdownGracePeriod: string;
  shutdownGracePeriodCriticalPods: string;
  /** the host has active swap that stays on: kubelet starts anyway and gives pods none of it */
  toleratesSwap?: boolean;
}

/** memorySwap.swapBehavior NoSwap (pods get no swap on a host that has some) came with Kubernetes 1.30. */
export function kubeletHasNoSwap(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 1 || (major === 1 && minor >= 30);
}

export function renderKubeletConfig(i: KubeletConfigInput): string {
  return [
    "# written by kube-rootfs; changes are replaced on the next provision.",
    "apiVersion: kubelet.config.k8s.io/v1beta1",
    "kind: KubeletConfiguration",
    "authentication:",
    "  anonymous:",
    "    enabled: false",
    "  webhook:",
    "    enabled: true",
    // The API server calls kubelet with a client certificate signed by the cluster CA.
    "  x509:",
    `    clientCAFile: ${CLUSTER_CA}`,
    "authorization:",
    "  mode: Webhook",
    "cgroupDriver: systemd",
    `containerRuntimeEndpoint: ${CONTAINERD_SOCKET}`,
    "clusterDNS:",
    ...i.clusterDNS.map((ip) => `  - ${ip}`),
    `clusterDomain: ${i.clusterDomain}`,
    // failSwapOn (default true) makes kubelet exit on a host with active swap.
    ...(i.toleratesSwap ? ["failSwapOn: false", "memorySwap:", "  swapBehavior: NoSwap"] : []),
    "rotateCertificates: true",
    // Graceful node shutdown: kubelet holds a logind delay inhibitor and stops pods, critical
    // ones last, when the machine powers off (see renderLogindDropIn).
    `shutdownGracePeriod: ${i.shutdownGracePeriod}`,
    `shutdownGracePeriodCriticalPods: ${i.shutdownGracePeriodCriticalPods}`,
    "staticPodPath: /etc/kubernetes/manifests",
    "",
  ].join("\n");
}

export const LOGIND_DROPIN = "/etc/systemd/logind.conf.d/10-kube-rootfs.conf";

/**
 * The machine's logind lets a delay inhibitor (kubelet's) hold a poweroff for the whole grace
 * period: its default InhibitDelayMaxSec is 5 s, and kubelet refuses a grace longer than it.
 */
export function renderLogindDropIn(graceSeconds: number): string {
  return ["# written by kube-rootfs; changes are replaced on the next provision.", "[Login]", `InhibitDelayMaxSec=${graceSeconds}`, ""].join("\n");
}
