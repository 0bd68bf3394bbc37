// Hostile or broken archives, served with a checksum that matches them (so only the archive
// checks stand between them and the rootfs): each is refused with one line, nothing is
// installed or written outside, and a clean run converges.
import { afterAll, afterEach, expect, setDefaultTimeout } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/goal";
import { tgz, type RawEntry } from "../helpers/tarball";
import { faultTest } from "./fault-test";
import { cleanMirror, stopCleanMirror, expectCleanFailure, expectConverges, newMachine, provision, dropMachines } from "./harness";

afterEach(dropMachines);
setDefaultTimeout(120_000);
afterAll(async () => await stopCleanMirror());

const ASSET = "containerd-2.0.4-linux-amd64.tar.gz";

/** A containerd release dir holding `archive` as its tarball, with a matching checksum file. */
function release(archive: Uint8Array): string {
  const base = join(tempDir("archive"), "containerd");
  const dir = join(base, "v2.0.4");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, ASSET), archive);
  writeFileSync(join(dir, `${ASSET}.sha256sum`), `${new Bun.CryptoHasher("sha256").update(archive).digest("hex")}  ${ASSET}\n`);
  return base;
}

const GOOD: RawEntry[] = [
  { path: "bin/", type: "dir" },
  { path: "bin/containerd", body: "#!/bin/sh\n" },
  { path: "bin/containerd-shim-runc-v2", body: "#!/bin/sh\n" },
  { path: "bin/ctr", body: "#!/bin/sh\n" },
];

async function refused(archive: Uint8Array, line: RegExp, extra: string[] = []) {
  const base = release(archive);
  const m = newMachine();
  const { url } = await cleanMirror();
  const r = await provision(m, url, ["--downloads-containerd-base-url", `file://${base}`, ...extra]);
  expectCleanFailure(r, m, line, "containerd");
  for (const f of ["containerd", "ctr", "containerd-shim-runc-v2"]) expect(existsSync(join(m.root, "usr/local/bin", f))).toBe(false);
  await expectConverges(m);
  return { m, base };
}

const prefix = `^kube-rootfs: cri: containerd: archive file://.*/${ASSET.replace(/\./g, "\\.")}: `;

faultTest("archive-traversal", async () => {
  const { m } = await refused(tgz([...GOOD, { path: "bin/../../../../evil", body: "x" }]), new RegExp(`${prefix}unsafe entry path bin/\\.\\./\\.\\./\\.\\./\\.\\./evil$`));
  expect(existsSync(join(m.dir, "evil"))).toBe(false);
});

faultTest("archive-absolute", async () => {
  const target = join(tempDir("abs"), "planted");
  await refused(tgz([...GOOD, { path: target, body: "x" }]), new RegExp(`${prefix}unsafe entry path ${target}$`));
  expect(existsSync(target)).toBe(false);
});

faultTest("archive-symlink-out", async () => {
  const outside = tempDir("outside");
  await refused(
    tgz([{ path: "bin/", type: "dir" }, { path: "bin/escape", type: "symlink", linkname: outside }, { path: "bin/escape/containerd", body: "pwned" }, ...GOOD.slice(1)]),
    new RegExp(`${prefix}entry bin/escape is a SymbolicLink; only regular files and directories are accepted$`),
  );
  expect(existsSync(join(outside, "containerd"))).toBe(false);
});

faultTest("archive-hardlink-out", async () => {
  await refused(tgz([{ path: "bin/", type: "dir" }, { path: "bin/containerd", type: "hardlink", linkname: "/etc/shadow" }, ...GOOD.slice(2)]), new RegExp(`${prefix}entry bin/containerd is a Link; only regular files`));
});

faultTest("archive-device", async () => {
  await refused(tgz([...GOOD, { path: "bin/null", type: "char" }]), new RegExp(`${prefix}entry bin/null is a CharacterDevice`));
  await refused(tgz([...GOOD, { path: "bin/pipe", type: "fifo" }]), new RegExp(`${prefix}entry bin/pipe is a FIFO`));
});

faultTest("archive-corrupt-gzip", async () => {
  const whole = tgz([...GOOD, { path: "bin/big", body: crypto.getRandomValues(new Uint8Array(60_000)) }]);
  await refused(whole.subarray(0, Math.floor(whole.length / 2)), new RegExp(`${prefix}not a valid tar\\.gz \\(.+\\)$`));
  const flipped = Uint8Array.from(whole);
  for (let i = 200; i < 400; i++) flipped[i] = flipped[i]! ^ 0x55;
  await refused(flipped, new RegExp(`${prefix}not a valid tar\\.gz \\(.+\\)$`));
});

faultTest("archive-entry-cap", async () => {
  await refused(tgz([...GOOD, { path: "bin/huge", size: 200_000_000 }]), new RegExp(`${prefix}entry bin/huge is 200000000 bytes, over the 100000000-byte cap$`), ["--max-download-bytes", "100000000"]);
});
