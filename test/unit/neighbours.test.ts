// What else on the host gets in the node's way: ports held (a real process listening on
// 127.0.0.1:10250, and a fake /proc where the holder is this node's own machine), a Docker
// daemon, a FORWARD policy of drop, and a kubelet on the host itself.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forwardPolicy, iptablesForwardDrops, iptablesVariantByName, nftForwardDrops } from "../../src/host/firewall";
import { tcpListeners } from "../../src/host/ports";
import { processFacts } from "../../src/host/processes";
import { updateHostManifest, withMachine } from "../../src/hostprep/manifest";
import type { CheckResult } from "../../src/readiness/check";
import { dockerCheck, hostKubeletCheck, portsCheck } from "../../src/readiness/neighbours";
import { realHost } from "../../src/host/probe";
import { fakeHostRoot } from "../helpers/fake-host";
import { testGoal } from "../helpers/goal";
import { tempDir } from "../helpers/tmp";

const HOST_PIDNS = "pid:[4026531836]";

/** A fake /proc under a fake host root: processes (stat, cmdline, pid namespace, socket fds) and TCP listeners. */
function fakeProc(procs: Array<{ pid: number; ppid: number; comm: string; argv?: string[]; sockets?: number[]; pidns?: string }>, listen: Array<[number, number]> = []) {
  const root = fakeHostRoot();
  const proc = join(root, "proc");
  for (const p of [{ pid: 1, ppid: 0, comm: "init" }, ...procs]) {
    const dir = join(proc, String(p.pid));
    mkdirSync(join(dir, "fd"), { recursive: true });
    mkdirSync(join(dir, "ns"), { recursive: true });
    writeFileSync(join(dir, "stat"), `${p.pid} (${p.comm}) S ${p.ppid} 1 1 0 -1`);
    writeFileSync(join(dir, "cmdline"), (("argv" in p && p.argv) || [p.comm]).join("\0") + "\0");
    symlinkSync(("pidns" in p && p.pidns) || HOST_PIDNS, join(dir, "ns/pid"));
    (("sockets" in p && p.sockets) || []).forEach((inode, fd) => symlinkSync(`socket:[${inode}]`, join(dir, "fd", String(fd + 3))));
  }
  mkdirSync(join(proc, "net"), { recursive: true });
  const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
  const line = ([port, inode]: [number, number], i: number) => `   ${i}: 0100007F:${port.toString(16).toUpperCase()} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0 100 0 0 10 0`;
  writeFileSync(join(proc, "net/tcp"), [header, ...listen.map(line)].join("\n") + "\n");
  writeFileSync(join(proc, "net/tcp6"), header + "\n");
  return root;
}

const result = (c: { run: (h: typeof realHost) => unknown }) => c.run(realHost) as CheckResult;

describe("ports", () => {
  const children: Array<{ kill(): void }> = [];
  afterAll(() => children.forEach((c) => c.kill()));

  test("a process listening on 127.0.0.1:10250 is a blocker naming it", async () => {
    const child = Bun.spawn([process.execPath, "-e", "Bun.listen({ hostname: '127.0.0.1', port: 10250, socket: { data() {} } }); console.log('up'); setInterval(() => {}, 1e6)"], { stdout: "pipe" });
    children.push(child);
    await child.stdout.getReader().read(); // listening
    // A host root whose /proc is the real one: the listener and its holder as the host shows them.
    const root = tempDir("realproc");
    symlinkSync("/proc", join(root, "proc"));
    const r = result(portsCheck(testGoal({ host: { root } })));
    expect(r.status).toBe("fail");
    expect(r.message).toStartWith(`10250 (kubelet's API) is held by pid ${child.pid} (${processFacts(child.pid)!.comm}): the machine shares the host's network`);
    expect(r.fix).toBe("stop that process (a kubelet or kube-proxy of another install?) and keep it from starting again");
  });

  test("a holder inside this node's machine (or its other slot, from the host manifest) is the node itself", async () => {
    const goal = testGoal({ machine: "kube1" });
    const other = join(tempDir("slot"), "kube2");
    const root = fakeProc(
      [
        { pid: 100, ppid: 1, comm: "systemd-nspawn", argv: ["/usr/bin/systemd-nspawn", "--boot", "-D", goal.machineDir] },
        { pid: 101, ppid: 100, comm: "systemd", pidns: "pid:[1]" },
        { pid: 102, ppid: 101, comm: "kubelet", pidns: "pid:[1]", sockets: [5001, 5002] },
        { pid: 200, ppid: 1, comm: "systemd-nspawn", argv: ["systemd-nspawn", `--directory=${other}`] },
        { pid: 201, ppid: 200, comm: "kube-proxy", pidns: "pid:[2]", sockets: [5003] },
      ],
      [[10250, 5001], [10248, 5002], [10249, 5003]],
    );
    expect(tcpListeners(join(root, "proc"))).toEqual([{ port: 10250, inode: 5001 }, { port: 10248, inode: 5002 }, { port: 10249, inode: 5003 }]);
    const own = { ...goal, host: { ...goal.host, root } };
    // kube2 is not known yet: its kube-proxy is someone else's.
    const before = result(portsCheck(own));
    expect(before.status).toBe("fail");
    expect(before.message).toStartWith("10249 (kube-proxy's metrics) is held by pid 201 (kube-proxy)");
    await updateHostManifest(root, (m) => withMachine(m, { name: "kube2", machineDir: other, nspawnConfigFile: "/x.nspawn", serviceOverrideFile: "/x.conf" }));
    expect(result(portsCheck(own))).toEqual({
      status: "ok",
      message: "10256 free; held: 10250 by this node's machine (pid 102 (kubelet)); 10248 by this node's machine (pid 102 (kubelet)); 10249 by this node's machine (pid 201 (kube-proxy))",
    });
  });
});

describe("host services", () => {
  test("a Docker daemon on the host warns; one inside a container does not", () => {
    const on = fakeProc([{ pid: 300, ppid: 1, comm: "dockerd" }]);
    const r = result(dockerCheck(testGoal({ host: { root: on } })));
    expect(r).toMatchObject({ status: "warn", fix: "stop and disable it (systemctl disable --now docker.service docker.socket), or accept pod traffic in its DOCKER-USER chain" });
    expect(r.message).toStartWith("a Docker daemon runs on the host (pid 300 (dockerd)): it sets the iptables FORWARD policy to DROP");
    const inside = fakeProc([{ pid: 300, ppid: 1, comm: "dockerd", pidns: "pid:[9]" }]);
    expect(result(dockerCheck(testGoal({ host: { root: inside } })))).toEqual({ status: "ok", message: "no Docker daemon on the host" });
  });

  test("a kubelet on the host itself blocks, running or enabled; installed only, it warns", () => {
    const running = fakeProc([{ pid: 400, ppid: 1, comm: "kubelet" }]);
    const r = result(hostKubeletCheck(testGoal({ host: { root: running } })));
    expect(r.status).toBe("fail");
    expect(r.message).toStartWith("kubelet runs on the host itself (pid 400 (kubelet)), a second kubelet");
    const enabled = fakeHostRoot();
    mkdirSync(join(enabled, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
    symlinkSync("/lib/systemd/system/kubelet.service", join(enabled, "etc/systemd/system/multi-user.target.wants/kubelet.service"));
    const e = result(hostKubeletCheck(testGoal({ host: { root: enabled } })));
    expect(e.status).toBe("fail");
    expect(e.message).toStartWith("kubelet.service is enabled on the host (/etc/systemd/system/multi-user.target.wants/kubelet.service): at boot it starts a second kubelet");
    const installed = fakeHostRoot();
    mkdirSync(join(installed, "lib/systemd/system"), { recursive: true });
    writeFileSync(join(installed, "lib/systemd/system/kubelet.service"), "[Service]\n");
    expect(result(hostKubeletCheck(testGoal({ host: { root: installed } })))).toMatchObject({ status: "warn", fix: "stop and disable it (systemctl disable --now kubelet), or remove the install it belongs to (apt-get remove kubelet)" });
    expect(result(hostKubeletCheck(testGoal({ host: { root: fakeProc([]) } })))).toEqual({ status: "ok", message: "no kubelet on the host itself" });
  });

  test("a FORWARD policy of drop is found in nft's ruleset and in iptables' rules", () => {
    const ruleset = JSON.stringify({ nftables: [
      { metainfo: { version: "1.0.6" } },
      { chain: { family: "ip", table: "filter", name: "FORWARD", hook: "forward", policy: "drop" } },
      { chain: { family: "inet", table: "fw", name: "fwd", hook: "forward", policy: "accept" } },
      { chain: { family: "ip", table: "filter", name: "INPUT", hook: "input", policy: "drop" } },
    ] });
    expect(nftForwardDrops(ruleset)).toEqual(["nft table ip filter chain FORWARD"]);
    expect(iptablesForwardDrops("-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n")).toEqual(["iptables FORWARD"]);
    expect(iptablesForwardDrops("-P FORWARD ACCEPT\n")).toEqual([]);
  });

  test("iptables is asked its version only when the name it resolves to does not tell its tables", async () => {
    const bin = tempDir("iptables");
    for (const real of ["xtables-nft-multi", "xtables-legacy-multi", "iptables"]) writeFileSync(join(bin, real), "");
    symlinkSync("xtables-nft-multi", join(bin, "iptables-nft"));
    symlinkSync("iptables-nft", join(bin, "alternative"));
    symlinkSync("xtables-legacy-multi", join(bin, "iptables-legacy"));
    expect([join(bin, "alternative"), join(bin, "iptables-legacy"), join(bin, "iptables"), join(bin, "absent")].map(iptablesVariantByName)).toEqual(["nft", "legacy", undefined, undefined]);

    // No nft, no legacy tables loaded: iptables (nf_tables) is read, iptables-legacy is not.
    const proc = join(fakeHostRoot(), "proc");
    const which = (cmd: string) => (cmd.startsWith("iptables") ? `/usr/sbin/${cmd}` : null);
    const calls: string[][] = [];
    const run = async (argv: string[]) => {
      calls.push(argv);
      if (argv[1] === "--version") return { code: 0, stdout: `iptables v1.8.9 (${argv[0]!.endsWith("legacy") ? "legacy" : "nf_tables"})\n` };
      return { code: 0, stdout: "-P FORWARD DROP\n" };
    };
    const found = { drops: ["iptables FORWARD"], read: ["iptables"] };
    expect(await forwardPolicy(proc, which, run, (tool) => (tool.endsWith("legacy") ? "legacy" : "nft"))).toEqual(found);
    expect(calls).toEqual([["/usr/sbin/iptables", "-S", "FORWARD"]]);
    calls.length = 0;
    expect(await forwardPolicy(proc, which, run, () => undefined)).toEqual(found);
    expect(calls).toEqual([["/usr/sbin/iptables", "--version"], ["/usr/sbin/iptables", "-S", "FORWARD"], ["/usr/sbin/iptables-legacy", "--version"]]);
  });
});
