// The x64 executable runs on every x86-64-v2 CPU (Nehalem, 2008 on), not only on ones with AVX2:
// its version, render and a small provision run under qemu-user with a CPU model without AVX2,
// so a build or Bun upgrade that needs AVX2 fails here instead of on an operator's old host.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readManifest } from "../../src/artifacts/manifest";
import { compiledBinary, run } from "../helpers/binary";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { sandboxImageArgs } from "../helpers/sandbox-registry";
import { tempDir } from "../helpers/tmp";

setDefaultTimeout(300_000);

const emulated = (cpu: string) => ["qemu-x86_64-static", "-cpu", cpu];
const NEHALEM = emulated("Nehalem");

let bin: string;
let dir: string;
let served: Served;

beforeAll(async () => {
  [bin, served] = await Promise.all([compiledBinary("linux-x64"), testMirror().then((m) => serveDir(m.dir))]);
  dir = tempDir("vf-cpu");
});
afterAll(() => served?.stop());

/** A minimal static x86-64 ELF: one AVX2 instruction (vpaddd ymm2, ymm1, ymm0), then exit(0). */
function avx2Probe(path: string) {
  const code = [0xc5, 0xf5, 0xfe, 0xd0, 0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05];
  const elf = Buffer.alloc(120 + code.length);
  const base = 0x400000n;
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // ELF, 64-bit, little-endian, version 1
  elf.writeUInt16LE(2, 16); // executable
  elf.writeUInt16LE(0x3e, 18); // x86-64
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(base + 120n, 24); // entry: the code after the headers
  elf.writeBigUInt64LE(64n, 32); // program headers right after this header
  elf.writeUInt16LE(64, 52);
  elf.writeUInt16LE(56, 54);
  elf.writeUInt16LE(1, 56);
  elf.writeUInt32LE(1, 64); // PT_LOAD of the whole file, read + execute
  elf.writeUInt32LE(5, 68);
  elf.writeBigUInt64LE(base, 80);
  elf.writeBigUInt64LE(base, 88);
  elf.writeBigUInt64LE(BigInt(elf.length), 96);
  elf.writeBigUInt64LE(BigInt(elf.length), 104);
  elf.writeBigUInt64LE(0x1000n, 112);
  elf.set(code, 120);
  writeFileSync(path, elf);
  chmodSync(path, 0o755);
}

test("the emulated Nehalem has no AVX2: an AVX2 instruction dies there and runs on Haswell", async () => {
  const probe = join(dir, "avx2-probe");
  avx2Probe(probe);
  // qemu writes a core file into its working directory on a fatal signal: keep it in the temp dir.
  const runIn = (cpu: string) => Bun.spawn([...emulated(cpu), probe], { cwd: dir, stdout: "ignore", stderr: "pipe" });
  const old = runIn("Nehalem");
  await old.exited;
  expect(old.signalCode).toBe("SIGILL");
  const modern = runIn("Haswell");
  expect(await modern.exited).toBe(0);
});

test("version runs on Nehalem", async () => {
  const r = await run([...NEHALEM, bin, "version"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(r.stdout).toContain("linux-x64");
});

test("render runs on Nehalem", async () => {
  const r = await run([...NEHALEM, bin, "render", "--machine", "vfcpu", "--host-devices", "", "--host-modules=false"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(r.stdout).toContain("[Exec]\nBoot=yes");
});

test("a provision from the loopback mirror runs on Nehalem, and a native verify finds it clean", async () => {
  writeFileSync(join(dir, "resolv.conf"), "nameserver 192.0.2.53\n");
  const root = join(dir, "root");
  const r = await run([
    ...NEHALEM, bin, "provision", "--machine", "vfcpu", "--machine-dir", root, "--cache-dir", join(dir, "cache"),
    "--bootstrap-method", "none", "--nspawn-config-file", join(dir, "host/vfcpu.nspawn"),
    "--service-override-file", join(dir, "host/override.conf"), "--hostname", "vfcpu", "--arch", "amd64",
    "--host-resolv-conf", join(dir, "resolv.conf"), "--mirror", served.url, ...(await sandboxImageArgs()), "--log-format", "json",
  ]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(Object.keys(readManifest(root)).sort()).toEqual(["cni", "containerd", "crictl", "kubeProxy", "kubectl", "kubelet", "runc"]);
  const v = await run([await compiledBinary(), "verify", "--machine-dir", root]);
  expect({ code: v.code, stderr: v.stderr }).toEqual({ code: 0, stderr: "" });
});
