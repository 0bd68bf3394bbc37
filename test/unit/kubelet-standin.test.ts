// The mirror's kubelet stand-in against kubelet's start-up checks. Each run sees a fake /proc/sys
// and /proc/swaps, bound over the real ones in a mount namespace of its own (unshare -m), so it
// never reads or writes this host's kernel settings; read-only, like a machine's /proc/sys.
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { KUBELET_SYSCTLS, kubeletStandInScript } from "../../scripts/kubelet-standin";
import { renderKubeletConfig } from "../../src/runtime/templates/kubelet";
import { tempDir } from "../helpers/tmp";

const SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
const CONFIG = renderKubeletConfig({ clusterDNS: ["10.96.0.10"], clusterDomain: "cluster.local", shutdownGracePeriod: "30s", shutdownGracePeriodCriticalPods: "10s" });
/** This machine kind's stock kernel: three of kubelet's six settings differ. */
const STOCK = { "vm/overcommit_memory": 0, "kernel/panic": 1, "kernel/panic_on_oops": 0 };
const MARKER = "kube-rootfs-fake-proc-sys";

interface Host {
  /** settings that differ from kubelet's values */
  sysctls?: Record<string, number>;
  /** /proc/sys writable (a host's) or read-only (a machine's) */
  writable?: boolean;
  swaps?: string[];
  /** the config file's text; null: no --config */
  config?: string | null;
  kubeconfig?: string;
  bootstrap?: string;
}

interface Ran {
  /** null: still running when looked at */
  code: number | null;
  stdout: string;
  stderr: string;
  /** the fake /proc/sys afterwards */
  sysctl: (path: string) => string;
}

function fakeHost(h: Host) {
  const dir = tempDir("kubelet-standin");
  for (const [path, value] of KUBELET_SYSCTLS) {
    const file = join(dir, "sys", path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${h.sysctls?.[path] ?? value}\n`);
  }
  writeFileSync(join(dir, "sys", MARKER), "");
  writeFileSync(join(dir, "swaps"), SWAPS_HEADER + (h.swaps ?? []).map((s) => `${s}\n`).join(""));
  const kubelet = join(dir, "kubelet");
  writeFileSync(kubelet, kubeletStandInScript("1.33.1", "amd64"));
  chmodSync(kubelet, 0o755);
  const args: string[] = [];
  if (h.config !== null) {
    writeFileSync(join(dir, "config.yaml"), h.config ?? CONFIG);
    args.push(`--config=${join(dir, "config.yaml")}`);
  }
  args.push(`--kubeconfig=${join(dir, "kubelet.conf")}`);
  if (h.kubeconfig !== undefined) writeFileSync(join(dir, "kubelet.conf"), h.kubeconfig);
  args.push("--bootstrap-kubeconfig", join(dir, "bootstrap-kubelet.conf"));
  if (h.bootstrap !== undefined) writeFileSync(join(dir, "bootstrap-kubelet.conf"), h.bootstrap);
  return { dir, kubelet, args };
}

/** Run the stand-in on a fake host: its exit, or null once it has said it runs and is still up 300 ms later. */
async function run(h: Host): Promise<Ran> {
  const { dir, kubelet, args } = fakeHost(h);
  // set -e: a bind that fails stops here, before the stand-in could touch the real /proc/sys.
  const mounts = [
    `mount --bind "$1/sys" /proc/sys`,
    ...(h.writable ? [] : ["mount -o remount,bind,ro /proc/sys"]),
    `mount --bind "$1/swaps" /proc/swaps`,
    // the kernel's /proc/sys has no such file: the fake is in place
    `test -e /proc/sys/${MARKER}`,
    "shift",
    'exec "$@"',
  ].join("; ");
  const proc = Bun.spawn(["unshare", "-m", "--", "sh", "-ec", mounts, "sh", dir, kubelet, ...args], { stdout: "pipe", stderr: "pipe" });
  let stdout = "";
  const reading = (async () => {
    for await (const chunk of proc.stdout) stdout += new TextDecoder().decode(chunk);
  })();
  const stderr = new Response(proc.stderr).text();
  for (let i = 0; i < 100 && proc.exitCode === null && !stdout.includes("running"); i++) await Bun.sleep(50);
  if (proc.exitCode === null) await Bun.sleep(300);
  const code = proc.exitCode;
  if (code === null) proc.kill();
  await proc.exited;
  await reading;
  return { code, stdout, stderr: await stderr, sysctl: (path) => readFileSync(join(dir, "sys", path), "utf8").trim() };
}

const running = (r: Ran) => expect({ code: r.code, stderr: r.stderr, last: r.stdout.trim().split("\n").at(-1) }).toEqual({ code: null, stderr: "", last: "kubelet stand-in: start-up checks passed; running" });
const JOINED = { bootstrap: "apiVersion: v1\nkind: Config\n" };

describe("the kubelet stand-in makes kubelet's start-up checks", () => {
  test("a host with kubelet's six settings, no swap, a config and a bootstrap kubeconfig: it stays up", async () => {
    running(await run(JOINED));
  });

  test("--version answers before any check", async () => {
    const r = Bun.spawnSync([fakeHost({}).kubelet, "--version"]);
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, "Kubernetes v1.33.1\n"]);
  });

  test("settings that differ on a read-only /proc/sys (the machine's): kubelet's ContainerManager error, every setting named, exit 1", async () => {
    const r = await run({ ...JOINED, sysctls: STOCK });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^E\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ kubelet\.go\] /);
    expect(r.stderr.split("] ")[1]).toBe(
      '"Failed to start ContainerManager" err="[open /proc/sys/vm/overcommit_memory: read-only file system, open /proc/sys/kernel/panic: read-only file system, open /proc/sys/kernel/panic_on_oops: read-only file system]"\n',
    );
    expect(r.sysctl("kernel/panic")).toBe("1");
  });

  test("one setting that differs: the error alone, not in brackets", async () => {
    const r = await run({ ...JOINED, sysctls: { "kernel/keys/root_maxkeys": 200 } });
    expect(r.code).toBe(1);
    expect(r.stderr).toEndWith('] "Failed to start ContainerManager" err="open /proc/sys/kernel/keys/root_maxkeys: read-only file system"\n');
  });

  test("settings that differ on a writable /proc/sys: written at kubelet's values, and it stays up", async () => {
    const r = await run({ ...JOINED, sysctls: STOCK, writable: true });
    running(r);
    for (const [path, value] of KUBELET_SYSCTLS) expect(r.sysctl(path)).toBe(String(value));
  });

  test("protectKernelDefaults: true: a setting that differs is an error, never written", async () => {
    const r = await run({ ...JOINED, sysctls: { "vm/overcommit_memory": 0 }, writable: true, config: `${CONFIG}protectKernelDefaults: true\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toEndWith('err="invalid kernel flag: vm/overcommit_memory, expected value: 1, actual value: 0"\n');
    expect(r.sysctl("vm/overcommit_memory")).toBe("0");
  });

  test("active swap: kubelet's swap error unless the config says failSwapOn: false", async () => {
    const swaps = ["/swapfile                               file\t\t65532\t\t0\t\t-2"];
    const refused = await run({ ...JOINED, swaps });
    expect({ code: refused.code, stderr: refused.stderr }).toEqual({
      code: 1,
      stderr: "failed to run Kubelet: running with swap on is not supported, please disable swap or set --fail-swap-on flag to false\n",
    });
    running(await run({ ...JOINED, swaps, config: `${CONFIG}failSwapOn: false\nmemorySwap:\n  swapBehavior: NoSwap\n` }));
    // A key of that name deeper in the file is not kubelet's failSwapOn.
    expect((await run({ ...JOINED, swaps, config: `${CONFIG}nested:\n  failSwapOn: false\n` })).code).toBe(1);
  });

  test("swap is checked before the kernel settings, as NewContainerManager runs before its Start", async () => {
    const r = await run({ ...JOINED, swaps: ["/dev/vda2 partition 1048572 0 -2"], sysctls: STOCK });
    expect(r.stderr).toStartWith("failed to run Kubelet: running with swap on");
  });

  test("no kubeconfig and no bootstrap kubeconfig: kubelet's bootstrap error", async () => {
    const r = await run({});
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/^failed to run Kubelet: unable to load bootstrap kubeconfig: stat \/\S+\/bootstrap-kubelet\.conf: no such file or directory\n$/) });
  });

  test("a kubeconfig whose client certificate is there is enough; one without is not, and the bootstrap kubeconfig is needed", async () => {
    const { dir } = fakeHost({});
    const pem = join(dir, "kubelet-client-current.pem");
    writeFileSync(pem, "cert and key\n");
    running(await run({ kubeconfig: `users:\n- name: default-auth\n  user:\n    client-certificate: ${pem}\n    client-key: ${pem}\n` }));
    running(await run({ kubeconfig: "users:\n- name: u\n  user:\n    client-certificate-data: LS0tLS1CRUdJTg==\n" }));
    const noCert = await run({ kubeconfig: "apiVersion: v1\nkind: Config\n" });
    expect(noCert.code).toBe(1);
    expect(noCert.stderr).toContain("unable to load TLS certificates from existing bootstrap client config read from");
    expect(noCert.stderr).toContain("failed to run Kubelet: unable to load bootstrap kubeconfig: stat ");
    const gone = await run({ kubeconfig: `users:\n- user:\n    client-certificate: ${join(dir, "nope.pem")}\n` });
    expect(gone.code).toBe(1);
  });

  test("the config file: missing, empty or not a KubeletConfiguration is kubelet's load error; none given means kubelet's defaults", async () => {
    running(await run({ ...JOINED, config: null }));
    const empty = await run({ ...JOINED, config: "" });
    expect({ code: empty.code, stderr: empty.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/^failed to load kubelet config file, path: (\S+), error: failed to load Kubelet config file \1, error kubelet config file "\1" was empty\n$/) });
    const other = await run({ ...JOINED, config: "apiVersion: v1\nkind: Config\n" });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("error failed to decode: no kind KubeletConfiguration of apiVersion kubelet.config.k8s.io/v1beta1");
    const r = Bun.spawnSync([fakeHost({}).kubelet, "--config=/nonexistent/config.yaml", "--kubeconfig=/nonexistent/k.conf"]);
    expect([r.exitCode, r.stderr.toString()]).toEqual([
      1,
      'failed to load kubelet config file, path: /nonexistent/config.yaml, error: failed to load Kubelet config file /nonexistent/config.yaml, error failed to read kubelet config file "/nonexistent/config.yaml", error: open /nonexistent/config.yaml: no such file or directory\n',
    ]);
  });
});
