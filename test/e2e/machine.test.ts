// start, stop and remove with the compiled binary on this host, whose PID 1 is not systemd:
// start and stop say so in one line; remove leaves no trace of a provisioned machine, keeps
// or purges the cache, refuses / and a dir the goal does not name, and never deletes a dir a
// systemd-nspawn is running on.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiledBinary, events, run } from "../helpers/binary";
import { tempDir } from "../helpers/tmp";
import { sandboxImageArgs } from "../helpers/sandbox-registry";

let bin: string;
let dir: string;
const WANTS = "/etc/systemd/system/machines.target.wants";

beforeAll(async () => {
  bin = await compiledBinary();
  dir = tempDir("machine");
}, 120_000);

afterAll(() => {
  for (const m of ["mc1", "mc2"]) Bun.spawnSync(["systemctl", "disable", `systemd-nspawn@${m}.service`], { stderr: "ignore", stdout: "ignore" });
});

const paths = (name: string) => ({
  root: join(dir, "machines", name),
  nspawn: join(dir, "nspawn", `${name}.nspawn`),
  dropins: join(dir, "system", `systemd-nspawn@${name}.service.d`),
  override: join(dir, "system", `systemd-nspawn@${name}.service.d`, "override.conf"),
  cache: join(dir, `cache-${name}`),
});

const cmdline = (pid: string) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "";
  }
};

const goalFlags = (name: string) => {
  const p = paths(name);
  return ["--machine", name, "--machine-dir", p.root, "--nspawn-config-file", p.nspawn, "--service-override-file", p.override, "--cache-dir", p.cache, "--log-format", "json"];
};

async function provisioned(name: string) {
  const r = await run([bin, "provision", ...goalFlags(name), ...(await sandboxImageArgs()), "--bootstrap-method", "none", "--skip-phases", "kube,cri,cni"]);
  if (r.code !== 0) throw new Error(`provision ${name} exited ${r.code}: ${r.stderr}`);
  const p = paths(name);
  // A few files of a rootfs, and something in the cache.
  mkdirSync(join(p.root, "usr/bin"), { recursive: true });
  writeFileSync(join(p.root, "usr/bin/tool"), "#!/bin/sh\n", { mode: 0o755 });
  mkdirSync(join(p.cache, "rootfs"), { recursive: true });
  writeFileSync(join(p.cache, "rootfs", "snapshot.tar.zst"), "kept");
  for (const f of [p.root, p.nspawn, p.override]) expect(existsSync(f)).toBe(true);
}

describe("without systemd as the host's PID 1", () => {
  for (const command of ["start", "stop"]) {
    test(`${command}: one line naming PID 1, exit 1, nothing touched`, async () => {
      const r = await run([bin, command, "--machine", "mc1", "--log-format", "json"]);
      expect(r.code).toBe(1);
      const pid1 = (await Bun.file("/proc/1/comm").text()).trim();
      expect(r.stderr).toBe(
        `kube-rootfs: ${command}: the host has no running systemd (PID 1 is ${pid1}, /run/systemd/system is missing); run it on a host booted with systemd, or boot the machine by hand with systemd-nspawn --boot\n`,
      );
      expect(r.stdout).toBe("");
      expect(existsSync("/run/kube-rootfs/mc1.lock")).toBe(false);
      expect(existsSync(join(WANTS, "systemd-nspawn@mc1.service"))).toBe(false);
    });
  }

  test("a bad --timeout is a usage error (exit 2), before anything else", async () => {
    const r = await run([bin, "start", "--machine", "mc1", "--timeout", "soon"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("kube-rootfs: --timeout: expected seconds greater than 0, got soon\n");
  });
});

describe("remove", () => {
  test("after a provision: no machine dir, .nspawn, drop-in or enablement left; the cache stays", async () => {
    await provisioned("mc1");
    const p = paths("mc1");
    // Enabled as start would leave it (systemctl edits the link without a running systemd).
    expect(Bun.spawnSync(["systemctl", "enable", "systemd-nspawn@mc1.service"], { stderr: "pipe" }).exitCode).toBe(0);
    expect(existsSync(join(WANTS, "systemd-nspawn@mc1.service"))).toBe(true);
    // A staging dir a killed bootstrap left beside it goes too.
    mkdirSync(`${p.root}.staging-999999`);

    const r = await run([bin, "remove", ...goalFlags("mc1")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.level === "warn")?.msg).toContain("the host has no running systemd");
    expect(ev.at(-1)?.fields?.removed).toEqual([`${p.root}.staging-999999`, p.root, p.nspawn, p.override, p.dropins]);
    for (const gone of [p.root, `${p.root}.staging-999999`, p.nspawn, p.dropins, join(WANTS, "systemd-nspawn@mc1.service")]) expect(existsSync(gone)).toBe(false);
    expect(readdirSync(join(dir, "machines"))).toEqual([]);
    expect(await Bun.file(join(p.cache, "rootfs", "snapshot.tar.zst")).text()).toBe("kept");

    // Removed is removed: a second run has nothing to do and succeeds.
    const again = await run([bin, "remove", ...goalFlags("mc1")]);
    expect(again.code).toBe(0);
    expect(events(again.stdout).at(-1)?.msg).toBe("mc1: nothing left to remove");
  });

  test("--purge-cache removes the cache dir too", async () => {
    await provisioned("mc2");
    const r = await run([bin, "remove", ...goalFlags("mc2"), "--purge-cache"]);
    expect(r.code).toBe(0);
    expect(existsSync(paths("mc2").cache)).toBe(false);
    expect(existsSync(paths("mc2").root)).toBe(false);
  });

  test("refuses / (exit 2, one line), touching nothing", async () => {
    const r = await run([bin, "remove", "--machine", "mc3", "--machine-dir", "/", "--cache-dir", join(dir, "cache-mc3"), "--log-format", "json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("kube-rootfs: machine dir / is /; refusing to remove it\n");
    expect(existsSync("/etc/os-release")).toBe(true);
  });

  test("refuses a dir the goal does not name as this machine's, unless given as --machine-dir", async () => {
    const other = join(dir, "machines", "other-rootfs");
    mkdirSync(join(other, "etc"), { recursive: true });
    const config = join(dir, "mc4.json");
    writeFileSync(config, JSON.stringify({ machine: "mc4", machineDir: other, cacheDir: join(dir, "cache-mc4"), nspawnConfigFile: paths("mc4").nspawn, serviceOverrideFile: paths("mc4").override }));
    const refused = await run([bin, "remove", "--config", config, "--log-format", "json"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`kube-rootfs: machine dir ${other} does not end in the machine's name mc4; name it on the command line (--machine-dir ${other}) to remove it\n`);
    expect(existsSync(join(other, "etc"))).toBe(true);

    const named = await run([bin, "remove", "--config", config, "--machine-dir", other, "--log-format", "json"]);
    expect(named.code).toBe(0);
    expect(existsSync(other)).toBe(false);
  });

  test("never deletes a dir a systemd-nspawn is running on (found through /proc)", async () => {
    await provisioned("mc5");
    const p = paths("mc5");
    copyFileSync("/bin/busybox", join(p.root, "usr/bin/busybox"));
    chmodSync(join(p.root, "usr/bin/busybox"), 0o755);
    const nspawn = Bun.spawn(["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-M", "mc5", "-D", p.root, "/usr/bin/busybox", "sleep", "61"], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      // Wait until the container's command runs (nspawn's forked helpers, which share its command
      // line, are gone by then), so this is a real running machine and the only nspawn on the dir.
      const started = () => readdirSync("/proc").some((pid) => /^\d+$/.test(pid) && cmdline(pid) === "/usr/bin/busybox sleep 61");
      for (let i = 0; i < 100 && nspawn.exitCode === null && !started(); i++) await Bun.sleep(100);
      expect(started()).toBe(true);
      const r = await run([bin, "remove", ...goalFlags("mc5")]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`kube-rootfs: remove mc5: systemd-nspawn (pid ${nspawn.pid}) is running on ${p.root}; stop it first\n`);
      for (const kept of [join(p.root, "usr/bin/tool"), p.nspawn, p.override]) expect(existsSync(kept)).toBe(true);
    } finally {
      nspawn.kill("SIGTERM");
      await nspawn.exited;
    }
    const r = await run([bin, "remove", ...goalFlags("mc5")]);
    expect(r.code).toBe(0);
    expect(existsSync(p.root)).toBe(false);
  });
});
