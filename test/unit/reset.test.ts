// reset against a fake host root: two slots provisioned (machine dirs, .nspawn files, drop-ins,
// the slot record) and the host's sysctl file and fstab change; --dry-run lists it all and
// changes nothing, reset leaves none of it, and a second reset says the host is clean.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST_MANIFEST } from "../../src/hostprep/manifest";
import { SYSCTL_FILE } from "../../src/hostprep/settings";
import { FSTAB_BACKUP } from "../../src/hostprep/swap";
import { events, runSource } from "../helpers/binary";
import { fakeHostRoot } from "../helpers/fake-host";
import { tempDir } from "../helpers/tmp";

/** Names of this run's own: a machine's lock (/run/kube-rootfs/<name>.lock) is shared by every run on the host. */
const SLOTS = [`rs-a-${process.pid}`, `rs-b-${process.pid}`];

describe("reset", () => {
  test("two slots and the host's files: the dry run lists them, reset removes them all, a second reset finds the host clean", async () => {
    const fstab = "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n";
    const root = fakeHostRoot({ fstab });
    const dir = tempDir("reset");
    const paths = (m: string) => ({ machineDir: join(dir, "machines", m), nspawn: join(dir, "nspawn", `${m}.nspawn`), dropin: join(dir, "system", `systemd-nspawn@${m}.service.d`, "override.conf") });
    const common = ["--host-root", root, "--cache-dir", join(dir, "cache"), "--log-format", "json"];
    for (const m of SLOTS) {
      const p = paths(m);
      const r = await runSource([
        "provision", ...common, "--machine", m, "--machine-dir", p.machineDir, "--nspawn-config-file", p.nspawn, "--service-override-file", p.dropin,
        "--bootstrap-method", "none", "--gpu-mode", "none", "--host-swap", "off", "--skip-phases", "install,images",
      ]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    }
    const record = join(root, "var/lib/kube-rootfs/slots.json");
    writeFileSync(record, JSON.stringify({ schema: 1, active: SLOTS[0], previous: SLOTS[1], switch: null }));
    mkdirSync(join(dir, "cache"), { recursive: true });
    expect(readFileSync(join(root, "etc/fstab"), "utf8")).not.toBe(fstab);

    const everything = [
      ...SLOTS.flatMap((m) => [paths(m).machineDir, paths(m).nspawn, paths(m).dropin, join(paths(m).dropin, "..")]),
      join(root, SYSCTL_FILE), join(root, FSTAB_BACKUP), record, join(root, HOST_MANIFEST), join(dir, "cache"),
    ];
    const dry = await runSource(["reset", "--dry-run", "--cache", ...common]);
    expect(dry.code).toBe(0);
    const listed = events(dry.stdout).filter((e) => e.msg === "would remove" || e.msg === "would restore").map((e) => e.fields!.path);
    expect([...listed].sort()).toEqual([...everything, join(root, "etc/fstab")].sort());
    for (const p of everything) expect(existsSync(p)).toBe(true);

    const reset = await runSource(["reset", "--cache", ...common]);
    expect(reset.code).toBe(0);
    const done = events(reset.stdout);
    expect(done.filter((e) => e.msg === "removed").map((e) => e.fields!.path)).toEqual(expect.arrayContaining(everything));
    expect(done.find((e) => e.msg === "restored")?.fields).toEqual({ what: "fstab: the swap lines host.swap off commented out", path: join(root, "etc/fstab") });
    expect(done.at(-1)?.msg).toMatch(/^\d+ thing\(s\) undone; the kernel values it set stay until the next boot$/);
    for (const p of everything) expect(existsSync(p)).toBe(false);
    expect(readFileSync(join(root, "etc/fstab"), "utf8")).toBe(fstab);
    expect(existsSync(join(root, "var/lib/kube-rootfs"))).toBe(false);

    const again = await runSource(["reset", ...common]);
    expect(again.code).toBe(0);
    expect(events(again.stdout).map((e) => e.msg)).toEqual(["the host is clean"]);
  });
});
