// A host root that looks like an NVIDIA GPU host to kube-rootfs, for machines with no GPU (this
// one): character device nodes made with mknod at NVIDIA's majors and minors, a /proc/devices
// and driver version file, driver libraries as tiny ELF shared objects with the real sonames
// (gcc, no code in them) and the linker cache ldconfig builds from them, nvidia-smi as a shell
// stand-in. Nothing here drives a GPU: it only has the shape the detection reads.
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempDir } from "./tmp";

export const DRIVER = "550.54.15";
/** The nvidia-uvm major is dynamic on a real host; this one's /proc/devices says 237. */
export const UVM_MAJOR = 237;
export const LIB_DIR = process.arch === "arm64" ? "/usr/lib/aarch64-linux-gnu" : "/usr/lib/x86_64-linux-gnu";

export interface FakeGpuHost {
  root: string;
  /** add a driver library (an ELF with this soname) and rebuild the cache */
  addLibrary(name: string, soname: string): string;
  removeFile(path: string): void;
}

function sh(argv: string[]) {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
}

export function mknodChar(root: string, path: string, major: number, minor: number) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  sh(["mknod", "-m", "0666", join(root, path), "c", String(major), String(minor)]);
}

/**
 * `gpus` GPUs (195:0, 195:1, …) with nvidiactl, uvm, uvm-tools, modeset and one MIG capability
 * node, three libraries, nvidia-smi and the firmware dir; `minimal`: only what auto needs to turn
 * GPU support on (/dev/nvidia0, /dev/nvidiactl) and libcuda; `devices: false`: no nodes at all.
 */
export function fakeGpuHost(opts: { gpus?: number; devices?: boolean; minimal?: boolean } = {}): FakeGpuHost {
  const root = tempDir("fake-gpu-host");
  const at = (p: string) => join(root, p);
  const write = (p: string, text: string, mode = 0o644) => {
    mkdirSync(dirname(at(p)), { recursive: true });
    writeFileSync(at(p), text);
    chmodSync(at(p), mode);
  };
  const full = !opts.minimal;
  if (opts.devices !== false) {
    for (let i = 0; i < (opts.gpus ?? (full ? 2 : 1)); i++) mknodChar(root, `/dev/nvidia${i}`, 195, i);
    mknodChar(root, "/dev/nvidiactl", 195, 255);
    write("/proc/devices", `Character devices:\n  1 mem\n195 nvidia-frontend\n${UVM_MAJOR} nvidia-uvm\n238 nvidia-caps\n\nBlock devices:\n  8 sd\n`);
    write("/proc/driver/nvidia/version", `NVRM version: NVIDIA UNIX x86_64 Kernel Module  ${DRIVER}  Fri Feb 9 00:00:00 UTC 2024\nGCC version:  gcc version 12.2.0\n`);
    mkdirSync(at("/sys/module/nvidia"), { recursive: true });
  }
  if (opts.devices !== false && full) {
    mknodChar(root, "/dev/nvidia-modeset", 195, 254);
    mknodChar(root, "/dev/nvidia-uvm", UVM_MAJOR, 0);
    mknodChar(root, "/dev/nvidia-uvm-tools", UVM_MAJOR, 1);
    mknodChar(root, "/dev/nvidia-caps/nvidia-cap1", 238, 1);
  }
  write("/etc/ld.so.conf", `${LIB_DIR}\n`);
  if (full) {
    write("/usr/bin/nvidia-smi", "#!/bin/sh\necho 'nvidia-smi stand-in: no GPU here'\n", 0o755);
    write(`/lib/firmware/nvidia/${DRIVER}/gsp_ga10x.bin`, "stand-in firmware\n");
  }
  // ldconfig -r builds the root's own ld.so.cache and the soname links, as on a real host.
  const rebuild = () => sh(["ldconfig", "-r", root]);
  const addLibrary = (name: string, soname: string) => {
    const path = `${LIB_DIR}/${name}`;
    mkdirSync(at(LIB_DIR), { recursive: true });
    sh(["gcc", "-shared", "-nostdlib", `-Wl,-soname,${soname}`, "-x", "c", "/dev/null", "-o", at(path)]);
    rebuild();
    return path;
  };
  for (const lib of full ? ["libcuda", "libnvidia-ml", "libnvidia-ptxjitcompiler"] : ["libcuda"]) addLibrary(`${lib}.so.${DRIVER}`, `${lib}.so.1`);
  return {
    root,
    addLibrary,
    removeFile(path) {
      rmSync(at(path), { force: true });
      rebuild();
    },
  };
}
