// Rendered files against golden files in test/golden (UPDATE_GOLDEN=1 rewrites them).
import { describe, expect, test } from "bun:test";
import { aptSources } from "../../src/config/distro";
import { renderNspawn } from "../../src/rootfs/templates/nspawn";
import { renderHostname, renderKmsgConf, renderModulesLoad, renderResolvConf, renderSourcesList } from "../../src/rootfs/templates/os";
import { renderServiceOverride } from "../../src/rootfs/templates/override";
import { golden } from "../helpers/golden";

const gpu = {
  machine: "kube7",
  hostModules: true,
  hostDevices: ["/dev/kvm", "/dev/net/tun", "/dev/fuse"],
  gpuDevices: ["/dev/nvidia0", "/dev/nvidia-uvm", "/dev/nvidiactl"],
  gpuLibraries: ["/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"],
};
const bare = { machine: "kube1", hostModules: false, hostDevices: [], gpuDevices: [], gpuLibraries: [] };

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
