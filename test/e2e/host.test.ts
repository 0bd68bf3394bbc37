// The host task on this host for real (host.root /): provision writes the host's sysctl file and
// the running kernel's values change; verify names a value changed back; reset --dry-run lists two
// slots (machine dirs, .nspawn files, drop-ins, the slot record) and the host's files, reset
// leaves none of them, and a second reset finds the host clean. The kernel's values are saved
// first and put back after, and kube-rootfs's own records of another run are set aside and back:
// the host is left as it was found.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { readSysctl, writeSysctl } from "../../src/host/sysctl";
import { HOST_MANIFEST } from "../../src/hostprep/manifest";
import { KUBELET_SYSCTLS, SYSCTL_FILE } from "../../src/hostprep/settings";
import { DEFAULT_RECORD } from "../../src/slots/record";
import { compiledBinary, events, run } from "../helpers/binary";
import { saveHostKernel, type SavedKernel } from "../helpers/host-kernel";
import { tempDir } from "../helpers/tmp";

const REAL = { KUBE_ROOTFS_HOST_ROOT: "/" };
const SLOTS = ["kr-host-a", "kr-host-b"];
/** kube-rootfs's own records on this host, set aside while the test runs (reset would act on another run's). */
const RECORDS = [HOST_MANIFEST, DEFAULT_RECORD];

let bin: string;
let dir: string;
let kernel: SavedKernel;
/** provision makes the .nspawn files' directory when the host has none; it goes again after */
const NSPAWN_DIR = "/etc/systemd/nspawn";
const hadNspawnDir = existsSync(NSPAWN_DIR);
const asideDir = tempDir("host-records");

const paths = (m: string) => ({
  machineDir: `/var/lib/machines/${m}`,
  nspawn: `/etc/systemd/nspawn/${m}.nspawn`,
  dropins: `/etc/systemd/system/systemd-nspawn@${m}.service.d`,
  override: `/etc/systemd/system/systemd-nspawn@${m}.service.d/override.conf`,
});

beforeAll(async () => {
  bin = await compiledBinary();
  dir = tempDir("host-e2e");
  kernel = saveHostKernel();
  for (const r of RECORDS) if (existsSync(r)) renameSync(r, join(asideDir, r.replaceAll("/", "_")));
  for (const m of SLOTS) for (const p of Object.values(paths(m))) expect(existsSync(p)).toBe(false);
}, 120_000);

afterAll(() => {
  kernel.restore();
  for (const r of RECORDS) {
    const aside = join(asideDir, r.replaceAll("/", "_"));
    if (!existsSync(aside)) continue;
    // reset may have removed the record's dir with the records the test made
    mkdirSync(dirname(r), { recursive: true });
    renameSync(aside, r);
  }
  for (const m of SLOTS) Bun.spawnSync(["systemctl", "disable", `systemd-nspawn@${m}.service`], { stderr: "ignore", stdout: "ignore" });
  if (!hadNspawnDir && existsSync(NSPAWN_DIR) && !readdirSync(NSPAWN_DIR).length) rmdirSync(NSPAWN_DIR);
});

const provision = (m: string) =>
  run([bin, "provision", "--machine", m, "--cache-dir", join(dir, "cache"), "--bootstrap-method", "none", "--gpu-mode", "none", "--skip-phases", "install,images", "--log-format", "json"], REAL);

describe("on this host", () => {
  test("provision writes the host's sysctl file and sets the running kernel's values that differed; verify names one changed back", async () => {
    const before = kernel.values;
    console.log(`before: ${JSON.stringify(before)}`);
    const r = await provision(SLOTS[0]!);
    expect(r.code).toBe(0);
    const file = readFileSync(SYSCTL_FILE, "utf8");
    for (const s of KUBELET_SYSCTLS) {
      expect(file).toContain(`\n${s.key} = ${s.value}\n`);
      expect(readSysctl("/", s.key)).toBe(s.value);
    }
    expect(readSysctl("/", "net.ipv4.ip_forward")).toBe("1");
    expect(Number(readSysctl("/", "fs.inotify.max_user_watches"))).toBeGreaterThanOrEqual(524288);
    const set = events(r.stdout).filter((e) => e.task === "host" && e.msg === "set").map((e) => e.fields!);
    // Exactly the values that differed before (kubelet's six, and ip_forward), from what the host had.
    for (const s of [...KUBELET_SYSCTLS, { key: "net.ipv4.ip_forward", value: "1" }]) {
      if (before[s.key] === s.value) expect(set.map((f) => f.key)).not.toContain(s.key);
      else expect(set).toContainEqual({ key: s.key, from: before[s.key], to: s.value });
    }
    const after = Object.fromEntries(Object.keys(before).map((k) => [k, readSysctl("/", k)]));
    console.log(`after: ${JSON.stringify(after)}`);
    const manifest = JSON.parse(readFileSync(HOST_MANIFEST, "utf8"));
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual([SYSCTL_FILE]);
    expect(manifest.machines.map((m: { name: string }) => m.name)).toEqual([SLOTS[0]]);

    const verify = () => run([bin, "verify", "--machine", SLOTS[0]!, "--log-format", "json"], REAL);
    expect((await verify()).code).toBe(0);
    writeSysctl("/", "kernel.panic", before["kernel.panic"] === "10" ? "0" : before["kernel.panic"]!);
    const drifted = await verify();
    expect(drifted.code).toBe(3);
    expect(events(drifted.stdout).filter((e) => e.msg === "drift").map((e) => e.fields)).toEqual([
      { path: "/proc/sys/kernel/panic", expected: "kernel.panic 10 in the running kernel", found: `${readSysctl("/", "kernel.panic")} (changed back)` },
    ]);
  });

  test("reset --dry-run lists two slots and the host's files; reset leaves none of them; a second reset finds the host clean", async () => {
    expect((await provision(SLOTS[1]!)).code).toBe(0);
    mkdirSync(join(DEFAULT_RECORD, ".."), { recursive: true });
    writeFileSync(DEFAULT_RECORD, JSON.stringify({ schema: 1, active: SLOTS[0], previous: SLOTS[1], switch: null }));
    mkdirSync(join(dir, "cache"), { recursive: true });
    const everything = [...SLOTS.flatMap((m) => Object.values(paths(m))), SYSCTL_FILE, DEFAULT_RECORD, HOST_MANIFEST];
    for (const p of everything) expect(existsSync(p)).toBe(true);

    const reset = (...flags: string[]) => run([bin, "reset", "--cache-dir", join(dir, "cache"), "--log-format", "json", ...flags], REAL);
    const dry = await reset("--dry-run");
    expect(dry.code).toBe(0);
    expect(events(dry.stdout).filter((e) => e.msg === "would remove").map((e) => e.fields!.path).sort()).toEqual([...everything].sort());
    for (const p of everything) expect(existsSync(p)).toBe(true);

    const done = await reset();
    expect(done.code).toBe(0);
    const lines = events(done.stdout);
    expect(lines.filter((e) => e.msg === "removed").map((e) => e.fields!.path)).toEqual(expect.arrayContaining(everything));
    expect(lines.at(-1)?.msg).toMatch(/undone; the kernel values it set stay until the next boot$/);
    for (const p of everything) expect(existsSync(p)).toBe(false);
    expect(existsSync(join(dir, "cache"))).toBe(true); // only with --cache

    const again = await reset();
    expect(again.code).toBe(0);
    expect(events(again.stdout).map((e) => e.msg)).toEqual(["the host is clean"]);
  });
});
