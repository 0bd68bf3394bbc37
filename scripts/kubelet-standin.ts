// The loopback mirror's kubelet: a POSIX sh script (the machine's Debian has dash, coreutils and
// nothing more to count on) that is held to the real kubelet on every start-up check that depends
// on the host and the machine, so a test fails wherever the real kubelet would not start. It
// checks, in kubelet's own order, and exits 1 with kubelet's own message where kubelet exits
// (sources: github.com/kubernetes/kubernetes, release 1.33 and master):
//  1. its --config file: cmd/kubelet/app/server.go, NewKubeletCommand → loadConfigFile, and
//     pkg/kubelet/kubeletconfig/configfiles/configfiles.go, fsLoader.Load (unreadable, empty, or not a
//     kubelet.config.k8s.io/v1beta1 KubeletConfiguration). The error goes to stderr undecorated, as
//     staging/src/k8s.io/component-base/cli/run.go, Run, prints it.
//  2. its kubeconfig, or else its bootstrap kubeconfig (when --kubeconfig is given, as the unit
//     does; without it kubelet runs standalone): cmd/kubelet/app/server.go, run →
//     buildKubeletClientConfig (rotateCertificates) → pkg/kubelet/certificate/bootstrap/bootstrap.go,
//     LoadClientConfig and isClientConfigStillValid. With a bootstrap kubeconfig named, the
//     kubeconfig counts only when it names a client certificate that is there (inline data, or a
//     file that exists; kubelet also parses it and checks its expiry, which this script does not),
//     else the bootstrap kubeconfig must load; with none named, the kubeconfig must exist.
//  3. swap: pkg/kubelet/cm/container_manager_linux.go, NewContainerManager, with
//     pkg/kubelet/util/swap/swap_util.go, IsSwapOn: a line past the header of /proc/swaps is active
//     swap, fatal unless the config says failSwapOn: false.
//  4. the kernel settings: pkg/kubelet/cm/container_manager_linux.go, setupKernelTunables (called by
//     setupNode from containerManagerImpl.Start): the six settings below at kubelet's values
//     (staging/src/k8s.io/component-helpers/node/util/sysctl/sysctl.go); one that differs is
//     written (protectKernelDefaults false, the default) or is an error (true); a failed write is
//     fatal (the KubeletInUserNamespace gate that forgives it needs a user namespace, and the
//     machine has PrivateUsers=no). pkg/kubelet/kubelet.go, initializeRuntimeDependentModules, logs
//     "Failed to start ContainerManager" with the errors aggregated and exits 1.
// Not mimicked: validateSystemRequirements and the QoS cgroups kubelet creates at the same start
// (container_manager_linux.go, setupNode → createNodeAllocatableCgroups): they need cpu, memory and
// pids controllers in the machine's cgroup v2, which this machine kind (a cgroup v1/hybrid host)
// cannot give, so a real kubelet does not start here at all; doctor and readiness say so.
// Past the checks it stays up, as kubelet does, until stopped. Its healthz port (10248) is not
// served: nothing in kube-rootfs asks it (src/slots/health.ts reads the unit through systemd).

/**
 * kubelet's values for the settings it owns, as setupKernelTunables lists them. Written from
 * kubelet's source, not taken from kube-rootfs's host settings: a wrong value there must fail here.
 */
export const KUBELET_SYSCTLS: ReadonlyArray<readonly [path: string, value: number]> = [
  ["vm/overcommit_memory", 1],
  ["vm/panic_on_oom", 0],
  ["kernel/panic", 10],
  ["kernel/panic_on_oops", 1],
  ["kernel/keys/root_maxkeys", 1000000],
  ["kernel/keys/root_maxbytes", 25000000],
];

export function kubeletStandInScript(version: string, arch: string): string {
  return `#!/bin/sh
# kube-rootfs mirror stand-in for kubelet (linux/${arch}); not the real program.
# It makes kubelet's start-up checks that depend on the host and the machine and exits where
# kubelet exits; scripts/kubelet-standin.ts in kube-rootfs says which checks, and where they are
# in kubelet's source.
set -u
config= kubeconfig= bootstrap=
while [ $# -gt 0 ]; do
  case "$1" in
    --version) echo "Kubernetes v${version}"; exit 0 ;;
    --config=*) config=\${1#*=} ;;
    --config) shift; config=\${1:-} ;;
    --kubeconfig=*) kubeconfig=\${1#*=} ;;
    --kubeconfig) shift; kubeconfig=\${1:-} ;;
    --bootstrap-kubeconfig=*) bootstrap=\${1#*=} ;;
    --bootstrap-kubeconfig) shift; bootstrap=\${1:-} ;;
  esac
  [ $# -gt 0 ] && shift
done
echo "kubelet stand-in v${version} linux/${arch}"

# klog's header: severity, date, time, pid, source file (the line numbers are left out).
klog() { printf '%s%s %7d %s] %s\\n' "$1" "$(date -u +'%m%d %H:%M:%S.%6N')" $$ "$2" "$3" >&2; }
# A Go error text from a shell's "…: Reason" message: Go prints errno text in lower case.
errno() { printf '%s' "\${1##*: }" | tr 'A-Z' 'a-z'; }
# A top-level scalar of the YAML config.
setting() { [ -n "$config" ] && sed -n "s/^$1:[[:space:]]*\\([^#[:space:]]*\\).*/\\1/p" "$config" | tail -n 1; }

# 1. The config file.
if [ -n "$config" ]; then
  why=
  if ! out=$(cat -- "$config" 2>&1 >/dev/null); then
    why="failed to read kubelet config file \\"$config\\", error: open $config: $(errno "$out")"
  elif [ ! -s "$config" ]; then
    why="kubelet config file \\"$config\\" was empty"
  elif ! grep -q '^kind:[[:space:]]*KubeletConfiguration[[:space:]]*$' "$config" || ! grep -q '^apiVersion:[[:space:]]*kubelet.config.k8s.io/v1beta1[[:space:]]*$' "$config"; then
    why="failed to decode: no kind KubeletConfiguration of apiVersion kubelet.config.k8s.io/v1beta1 in $config"
  fi
  if [ -n "$why" ]; then
    echo "failed to load kubelet config file, path: $config, error: failed to load Kubelet config file $config, error $why" >&2
    exit 1
  fi
fi

# 2. The kubeconfig, or the bootstrap kubeconfig to make one with.
usable() {
  [ -f "$1" ] || return 1
  grep -q '^[[:space:]]*client-certificate-data:[[:space:]]*[^[:space:]]' "$1" && return 0
  cert=$(sed -n 's/^[[:space:]]*client-certificate:[[:space:]]*\\([^[:space:]]*\\).*/\\1/p' "$1" | head -n 1)
  [ -n "$cert" ] && [ -f "$cert" ]
}
if [ -n "$kubeconfig" ] && [ -z "$bootstrap" ]; then
  if [ ! -e "$kubeconfig" ]; then
    echo "failed to run Kubelet: unable to load kubeconfig: stat $kubeconfig: no such file or directory" >&2
    exit 1
  fi
elif [ -n "$kubeconfig" ] && ! usable "$kubeconfig"; then
  if [ -e "$kubeconfig" ]; then
    klog E bootstrap.go "\\"Unhandled Error\\" err=\\"unable to load TLS certificates from existing bootstrap client config read from $kubeconfig\\""
  fi
  if ! out=$(cat -- "$bootstrap" 2>&1 >/dev/null); then
    echo "failed to run Kubelet: unable to load bootstrap kubeconfig: stat $bootstrap: $(errno "$out")" >&2
    exit 1
  fi
fi

# 3. Swap.
if [ -r /proc/swaps ] && [ "$(wc -l < /proc/swaps)" -gt 1 ] && [ "$(setting failSwapOn)" != false ]; then
  echo "failed to run Kubelet: running with swap on is not supported, please disable swap or set --fail-swap-on flag to false" >&2
  exit 1
fi

# 4. The kernel settings.
errors=
fail() { errors="\${errors:+$errors, }$1"; count=$((\${count:-0} + 1)); }
for pair in ${KUBELET_SYSCTLS.map(([path, value]) => `${path}=${value}`).join(" ")}; do
  flag=\${pair%=*} want=\${pair#*=}
  file=/proc/sys/$flag
  if ! have=$(cat "$file" 2>/dev/null); then
    fail "open $file: no such file or directory"
  elif [ "$have" != "$want" ]; then
    if [ "$(setting protectKernelDefaults)" = true ]; then
      fail "invalid kernel flag: $flag, expected value: $want, actual value: $have"
    elif ! out=$( { printf '%s' "$want" > "$file"; } 2>&1 ); then
      fail "open $file: $(errno "$out")"
    fi
  fi
done
if [ -n "$errors" ]; then
  [ "$count" -gt 1 ] && errors="[$errors]"
  klog E kubelet.go "\\"Failed to start ContainerManager\\" err=\\"$errors\\""
  exit 1
fi

echo "kubelet stand-in: start-up checks passed; running"
exec sleep infinity
`;
}
