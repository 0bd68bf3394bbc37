// Rendered files against golden files in test/golden (UPDATE_GOLDEN=1 rewrites them).
import { describe, expect, test } from "bun:test";
import { aptSources } from "../../src/config/distro";
import { renderNspawn } from "../../src/rootfs/templates/nspawn";
import { renderHostname, renderKmsgConf, renderModulesLoad, renderResolvConf, renderSourcesList } from "../../src/rootfs/templates/os";
import { renderServiceOverride } from "../../src/rootfs/templates/override";
import { golden } from "../helpers/golden";

const same = (path: string) => ({ source: path, path });
const gpuDevices = [
  { path: "/dev/nvidia-uvm", major: 235, minor: 0 },
  { path: "/dev/nvidia0", major: 195, minor: 0 },
  { path: "/dev/nvidiactl", major: 195, minor: 255 },
];
const gpu = {
  machine: "kube7",
  hostModules: true,
  hostDevices: ["/dev/kvm", "/dev/net/tun", "/dev/fuse"],
  gpuDevices,
  gpuBinds: {
    devices: gpuDevices.map((d) => ({ ...d, ...same(d.path) })),
    files: [
      same("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"),
      // a host root other than "/" (a test's fake host): source and path differ
      { source: "/srv/host/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15", path: "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15" },
      same("/usr/bin/nvidia-smi"),
    ],
  },
};
const bare = { machine: "kube1", hostModules: false, hostDevices: [], gpuDevices: [] };

describe("nspawn settings", () => {
  test("with modules, devices and GPUs", () => golden("kube7-gpu.nspawn", renderNspawn(gpu)));
  test("bare host: no [Files] section", () => {
    golden("kube1-bare.nspawn", renderNspawn(bare));
    expect(renderNspawn(bare)).not.toContain("[Files]");
  });
});

describe("service override", () => {
  test("with devices", () => golden("kube7-gpu.override.conf", renderServiceOverride(gpu)));
  test("bare", () => golden("kube1-bare.override.conf", renderServiceOverride(bare)));
});

describe("OS files", () => {
  test("sources.list: Ubuntu amd64 uses the archive and security hosts", () =>
    golden("noble-amd64.sources.list", renderSourcesList(aptSources("noble", "amd64", undefined, ["main", "universe"]))));
  test("sources.list: Ubuntu arm64 uses ports for every pocket", () =>
    golden("noble-arm64.sources.list", renderSourcesList(aptSources("noble", "arm64", undefined, ["main", "universe"]))));
  test("sources.list: Debian with a mirror derives its security archive", () =>
    golden("bookworm-mirror.sources.list", renderSourcesList(aptSources("bookworm", "amd64", "http://mirror.example/debian/", ["main"]))));
  test("sources.list: sid has no updates or security pockets", () =>
    expect(renderSourcesList(aptSources("sid", "arm64", undefined, ["main"]))).toBe(
      "# written by kube-rootfs\ndeb http://deb.debian.org/debian sid main\n",
    ));
  test("kmsg, modules, hostname, resolv.conf", () => {
    expect(renderKmsgConf()).toBe("L /dev/kmsg - - - - /dev/console\n");
    expect(renderModulesLoad()).toBe("overlay\nbr_netfilter\n");
    expect(renderHostname("node-1")).toBe("node-1\n");
    expect(renderResolvConf("nameserver 10.0.0.2", "/etc/resolv.conf")).toBe(
      "# copied from the host's /etc/resolv.conf by kube-rootfs\nnameserver 10.0.0.2\n",
    );
  });
});
