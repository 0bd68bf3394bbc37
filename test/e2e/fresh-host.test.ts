// The project proves its own set-up on a bare host: a Debian minbase root of the host's suite
// (test/helpers/bare-root.ts), `scripts/setup.sh --system` run inside it as a new user runs it,
// then the built binary's readiness (provision --dry-run) there for every bootstrap path the
// suite uses: debootstrap and mmdebstrap for the host's arch, mmdebstrap for the other arch (under
// qemu-user), a snapshot restore and an image. None may find a blocker. Then each path's own tool
// is taken away in turn: readiness names it with its package and exits 1. What was installed by
// hand on the machine running the suite cannot hide a missing package here.
// Needs root, mmdebstrap, unshare, chroot and the host's Debian mirror (scripts/setup.sh).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archOf } from "../../src/host/arch";
import { bootstrapPlan } from "../../src/rootfs/bootstrap/plan";
import { createSnapshot, snapshotPath } from "../../src/rootfs/bootstrap/snapshot";
import { hostDebianMirror } from "../helpers/apt";
import { bareRoot, type BareRoot } from "../helpers/bare-root";
import { compiledBinary, events } from "../helpers/binary";
import { testGoal } from "../helpers/goal";
import { removeDir } from "../helpers/tmp";

const ROOT = join(import.meta.dir, "..", "..");
const apt = hostDebianMirror();
const host = archOf(process.arch);
const other = host === "amd64" ? "arm64" : "amd64";
const SNAPSHOT_CACHE = "/var/cache/kube-rootfs-snapshot";
let root: BareRoot;
let setup: { code: number; stdout: string; stderr: string };

/** Each bootstrap path the suite uses, its provision flags, and the command only it runs. */
const PATHS: Array<{ path: string; flags: string[]; own: string; plans: string }> = [
  { path: `debootstrap ${host}`, flags: ["--bootstrap-tool", "debootstrap"], own: "debootstrap", plans: "would bootstrap" },
  { path: `mmdebstrap ${host}`, flags: ["--bootstrap-tool", "mmdebstrap"], own: "mmdebstrap", plans: "would bootstrap" },
  { path: `mmdebstrap ${other}`, flags: ["--bootstrap-tool", "mmdebstrap", "--arch", other], own: "arch-test", plans: "would bootstrap" },
  {
    path: "snapshot restore",
    flags: ["--bootstrap-tool", "mmdebstrap", "--bootstrap-suite", apt.suite, "--bootstrap-mirror", apt.mirror, "--cache-dir", SNAPSHOT_CACHE],
    own: "zstd",
    plans: "would restore",
  },
  { path: "image", flags: ["--bootstrap-method", "image", "--bootstrap-image", "oci-layout:/srv/rootfs-layout:bookworm"], own: "setfattr", plans: "would restore" },
];

const dryRun = (flags: string[]) =>
  root.exec(["kube-rootfs", "provision", "--dry-run", "--machine", "fresh1", "--log-format", "json", ...flags]);

// the bare root, its logs and the snapshot's tree: removed with the root
let dir: string | undefined;

beforeAll(async () => {
  dir = mkdtempSync("/var/tmp/kube-rootfs-fresh-host-");
  const t0 = performance.now();
  root = await bareRoot(join(dir, "root"), apt, join(dir, "mmdebstrap.log"));
  const t1 = performance.now();
  mkdirSync(join(root.dir, "opt/kube-rootfs/scripts"), { recursive: true });
  copyFileSync(join(ROOT, "scripts/setup.sh"), join(root.dir, "opt/kube-rootfs/scripts/setup.sh"));
  copyFileSync(await compiledBinary(), join(root.dir, "usr/local/bin/kube-rootfs"));
  setup = await root.exec(["bash", "/opt/kube-rootfs/scripts/setup.sh", "--system"], { DEBIAN_FRONTEND: "noninteractive" });
  // The snapshot path's cache holds a real snapshot under the key that path's goal looks for.
  const goal = testGoal({ arch: host, cacheDir: join(root.dir, SNAPSHOT_CACHE), bootstrap: { method: "bootstrap", tool: "mmdebstrap", suite: apt.suite, mirror: apt.mirror } });
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "etc"), { recursive: true });
  writeFileSync(join(tree, "etc/hostname"), "fresh1\n");
  await createSnapshot(tree, snapshotPath(goal.cacheDir, bootstrapPlan(goal, "mmdebstrap", () => true), "zstd"), join(dir, "snapshot.log"), new AbortController().signal, "zstd");
  const secs = (from: number, to = performance.now()) => `${((to - from) / 1000).toFixed(1)}s`;
  console.log(`fresh host: bare root ${secs(t0, t1)}, setup.sh --system ${secs(t1)}`);
}, 900_000);

afterAll(async () => {
  await root?.dispose();
  if (dir) removeDir(dir);
}, 120_000);

describe("a bare host after scripts/setup.sh --system", () => {
  test("setup.sh succeeds in the bare root", () => {
    // on failure, the end of what it said
    expect({ code: setup.code, said: (setup.stdout + setup.stderr).slice(-3000) }).toEqual({ code: 0, said: expect.any(String) });
  });

  for (const { path, flags, plans } of PATHS) {
    test(`${path}: readiness finds no blocker`, async () => {
      const r = await dryRun(flags);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
      const ev = events(r.stdout);
      expect(ev.some((e) => e.task === "ensure-workspace" && e.msg === plans)).toBe(true);
      expect(ev.filter((e) => e.task === "readiness" && e.level === "info" && e.msg.startsWith("tools: ")).length).toBe(1);
    });
  }

  for (const { path, flags, own } of PATHS) {
    test(`${path}: without ${own}, readiness names it in one line and exits 1`, async () => {
      const hidden = root.hide(own);
      try {
        const r = await dryRun(flags);
        expect(r.code).toBe(1);
        const lines = r.stderr.trim().split("\n");
        expect(lines.length).toBe(1);
        expect(lines[0]).toStartWith(`kube-rootfs: readiness: tools: ${own} not found: `);
        expect(lines[0]).toContain("(fix: apt-get install ");
      } finally {
        hidden.restore();
      }
    });
  }
});
