#!/usr/bin/env bash
# Install what building and testing kube-rootfs needs on a fresh Debian/Ubuntu host:
# the system tools the tests drive for real, then the npm packages (Bun included).
# --system: the system part alone (what test/e2e/fresh-host.test.ts runs in a bare root).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") system_only= ;;
  --system) system_only=1 ;;
  *) echo "setup: unknown option $1 (usage: setup.sh [--system])" >&2; exit 2 ;;
esac

# debootstrap/mmdebstrap bootstrap real rootfs trees; systemd-container boots them;
# containerd, runc and containernetworking-plugins give real binaries for the loopback
# mirror; arch-test is what mmdebstrap runs to bootstrap another architecture (a Recommends of
# mmdebstrap, which --no-install-recommends leaves out); nginx serves a bundle as a mirror; zstd compresses snapshots; attr and libcap2-bin
# set the xattrs and file capabilities the snapshot tests expect to survive; qemu-user-static
# runs the x64 executable on an emulated CPU without AVX2 (test/e2e/cpu-floor.test.ts);
# busybox-static gives the nested and boot tests a tiny real userland;
# tmux is the pseudo-terminal the terminal display test drives; openssl makes the
# test CAs and certificates; docker-registry, skopeo and umoci are the registry, the
# client and the unpacker the OCI tests check against (apache2-utils: htpasswd); gcc makes
# the ELF stand-ins of a fake GPU host's driver libraries (test/helpers/fake-gpu-host.ts).
packages=(debootstrap mmdebstrap arch-test systemd-container containerd runc containernetworking-plugins nginx zstd attr libcap2-bin qemu-user-static binfmt-support curl iproute2 util-linux git busybox-static tmux openssl docker-registry skopeo umoci apache2-utils gcc)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: as root, install: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The nginx package starts a default server on port 80; the tests start their own.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi

# The other arch's binfmt handler (registered with the F flag by Debian's qemu-user-static). A host
# without systemd neither mounts binfmt_misc nor registers handlers at boot: do both, once.
if [ "$(id -u)" -eq 0 ]; then
  case "$(uname -m)" in x86_64) foreign=qemu-aarch64 ;; aarch64) foreign=qemu-x86_64 ;; *) foreign= ;; esac
  binfmt=/proc/sys/fs/binfmt_misc
  [ -e "$binfmt/status" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
  if [ -n "$foreign" ] && ! grep -qx enabled "$binfmt/$foreign" 2>/dev/null; then update-binfmts --enable "$foreign"; fi
fi

# Two tests need Debian trixie's packages, which run on bookworm's glibc: the GPU boot test a
# containerd with CDI (1.7 or later; bookworm's is 1.6), and the cluster tests the real kubectl
# 1.32 (bookworm has none) as the second client of the test API server. Fetch them with apt's
# state kept in its own dir (the host's apt sources are left alone) and unpack each where the
# tests take it from, under /var/cache/kube-rootfs-test/<dir>.
test_cache=/var/cache/kube-rootfs-test
trixie=()
[ -x "$test_cache/containerd-cdi/usr/bin/containerd" ] || trixie+=("containerd:containerd-cdi")
[ -x "$test_cache/kubectl/usr/bin/kubectl" ] || trixie+=("kubectl:kubectl")
if [ "$(id -u)" -eq 0 ] && [ "${#trixie[@]}" -gt 0 ]; then
  apt_dir=$(mktemp -d)
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  # the archive this host's apt already uses for its own suite
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  site=$(apt-get indextargets --format '$(SITE) $(RELEASE)' | awk -v r="$codename" '$2 == r { print $1; exit }')
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $site trixie main" >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir" -o "Dir::Cache::archives=$apt_dir/archives" -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
  apt-get -qq "${apt_opts[@]}" update
  for entry in "${trixie[@]}"; do
    package=${entry%%:*}
    (cd "$apt_dir" && apt-get -qq "${apt_opts[@]}" download "$package")
    mkdir -p "$test_cache/${entry#*:}"
    dpkg-deb -x "$apt_dir/${package}"_*.deb "$test_cache/${entry#*:}"
  done
  rm -rf "$apt_dir"
fi

[ -n "$system_only" ] || npm ci --no-audit --no-fund --loglevel=error
