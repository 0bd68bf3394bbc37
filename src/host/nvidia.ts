// What an NVIDIA host has, read from a host root ("/" in a real run, a fake host in tests):
// the device nodes with their real numbers, the driver version the kernel module reports, and
// the driver's user-space files as the host's dynamic linker cache lists them.
import { readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { readText } from "../fs/read";
import type { Arch } from "./arch";
import { toolPath } from "./tools";

export interface GpuDevice {
  /** path on the host, as the machine sees it too (/dev/nvidia0) */
  path: string;
  major: number;
  minor: number;
}

export interface NvidiaHost {
  /** every NVIDIA character device node, sorted by path */
  devices: GpuDevice[];
  /** the kernel module's version (/proc/driver/nvidia/version, else /sys/module/nvidia/version) */
  moduleVersion?: string;
  /** the nvidia module is loaded (/sys/module/nvidia or /proc/driver/nvidia exists) */
  moduleLoaded: boolean;
  /** driver libraries (the files the cache's sonames lead to), by their path on the host */
  libraries: string[];
  /** nvidia-smi and the other driver tools present */
  binaries: string[];
  /** /lib/firmware/nvidia/<module version>, when present */
  firmware?: string;
  /** char majors by driver name, from /proc/devices */
  majors: Record<string, number>;
  /** why the library list may be incomplete (no ldconfig, an unreadable cache) */
  problems: string[];
}

/** Device nodes the driver makes (nvidia-caps/* are MIG capabilities). */
const DEVICE = /^nvidia(\d+|ctl|-uvm|-uvm-tools|-modeset)$/;
/** The driver's user-space libraries, by soname: CUDA, NVML, the JIT, video, OptiX, GL vendor libraries. */
const LIBRARY = /^(libcuda|libcudadebugger|libnvcuvid|libnvoptix|libnvidia-[\w-]+|lib(GLX|EGL|GLESv1_CM|GLESv2)_nvidia)\.so(\.|$)/;
const DRIVER_BINARIES = ["nvidia-smi", "nvidia-debugdump", "nvidia-persistenced", "nvidia-cuda-mps-control", "nvidia-cuda-mps-server"];
const BIN_DIRS = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"];
/** ldconfig -p's tag for the machine's own arch; other arches' (32-bit) entries are left out. */
const CACHE_TAG: Record<Arch, string> = { amd64: "libc6,x86-64", arm64: "libc6,AArch64" };

/** Linux's dev_t encoding. */
export function devNumbers(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

/** `/proc/devices`' character section: driver name → major. */
export function parseProcDevices(text: string): Record<string, number> {
  const chars = text.split(/\n\s*\n/)[0] ?? "";
  const out: Record<string, number> = {};
  for (const m of chars.matchAll(/^\s*(\d+)\s+(\S+)\s*$/gm)) out[m[2]!] = Number(m[1]);
  return out;
}

/** `NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar …` (the open module: `… Open Kernel Module for x86_64  570.86.15 …`) or a bare `550.54.15`. */
export function parseModuleVersion(text: string | undefined): string | undefined {
  if (!text) return undefined;
  return (/Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)/.exec(text) ?? /^\s*(\d+(?:\.\d+)+)\s*$/.exec(text))?.[1];
}

/** The paths `ldconfig -p` lists for NVIDIA's sonames, for this arch. */
export function parseLdconfig(text: string, arch: Arch): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(\S+) \(([^)]*)\)(?: OS ABI: [^=]*)? => (\/\S+)$/gm)) {
    if (LIBRARY.test(m[1]!) && m[2]!.split(",").slice(0, 2).join(",") === CACHE_TAG[arch]) out.push(m[3]!);
  }
  return out;
}

function charDevice(root: string, path: string): GpuDevice | undefined {
  try {
    const st = statSync(join(root, path), { bigint: true });
    return st.isCharacterDevice() ? { path, ...devNumbers(st.rdev) } : undefined;
  } catch {
    return undefined;
  }
}

const list = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

function nvidiaDevices(root: string): GpuDevice[] {
  const paths = [
    ...list(join(root, "dev")).filter((n) => DEVICE.test(n)).map((n) => `/dev/${n}`),
    ...list(join(root, "dev/nvidia-caps")).map((n) => `/dev/nvidia-caps/${n}`),
  ];
  return paths.flatMap((p) => charDevice(root, p) ?? []).sort((a, b) => a.path.localeCompare(b.path, "en", { numeric: true }));
}

/** The GPUs themselves: /dev/nvidia0, /dev/nvidia1, … by index. */
export const gpuIndexes = (devices: GpuDevice[]) =>
  devices.flatMap((d) => /^\/dev\/nvidia(\d+)$/.exec(d.path)?.[1] ?? []).map(Number).sort((a, b) => a - b);

/** The control node is there: without it GPU support stays off, and nothing else of the driver need be read. */
export const hasNvidiaControl = (root: string) => charDevice(root, "/dev/nvidiactl") !== undefined;

/** auto turns GPU support on for exactly this: the control node and at least one GPU. */
export const hasNvidiaGpu = (devices: GpuDevice[]) => devices.some((d) => d.path === "/dev/nvidiactl") && gpuIndexes(devices).length > 0;

/** The host's dynamic linker cache as `ldconfig -p` prints it (the root's own cache file). */
function ldconfigCache(root: string): { text?: string; problem?: string } {
  const ldconfig = toolPath("ldconfig");
  if (!ldconfig) return { problem: "ldconfig not found: the driver libraries cannot be listed" };
  const cache = join(root, "etc/ld.so.cache");
  const r = Bun.spawnSync([ldconfig, "-p", "-C", cache], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return { problem: `ldconfig -p -C ${cache}: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}` };
  return { text: r.stdout.toString() };
}

/** The file a cache entry leads to, as a path inside root (undefined when it leaves root or is gone). */
function realFile(root: string, path: string): string | undefined {
  try {
    const real = realpathSync(join(root, path));
    const base = root === "/" ? "" : realpathSync(root);
    return real.startsWith(`${base}/`) ? real.slice(base.length) : undefined;
  } catch {
    return undefined;
  }
}

function driverFiles(root: string, arch: Arch, moduleVersion: string | undefined) {
  const cache = ldconfigCache(root);
  const libraries = [...new Set(parseLdconfig(cache.text ?? "", arch).flatMap((p) => realFile(root, p) ?? []))].sort();
  const binaries = DRIVER_BINARIES.flatMap((b) => {
    const dir = BIN_DIRS.find((d) => statSync(join(root, d, b), { throwIfNoEntry: false })?.isFile());
    return dir ? [`${dir}/${b}`] : [];
  });
  const fw = moduleVersion && `/lib/firmware/nvidia/${moduleVersion}`;
  const firmware = fw && statSync(join(root, fw), { throwIfNoEntry: false })?.isDirectory() ? fw : undefined;
  return { libraries, binaries, firmware, problems: cache.problem ? [cache.problem] : [] };
}

/**
 * The NVIDIA facts of the host at `root`. Without the control node and a GPU the driver files
 * are not looked for (no ldconfig is run on a host without a GPU).
 */
export function detectNvidia(root: string, arch: Arch): NvidiaHost {
  const devices = nvidiaDevices(root);
  const moduleVersion = parseModuleVersion(readText(join(root, "proc/driver/nvidia/version")) ?? readText(join(root, "sys/module/nvidia/version")));
  const moduleLoaded = [join(root, "sys/module/nvidia"), join(root, "proc/driver/nvidia")].some((p) => statSync(p, { throwIfNoEntry: false })?.isDirectory());
  const majors = parseProcDevices(readText(join(root, "proc/devices")) ?? "");
  const files = hasNvidiaGpu(devices) ? driverFiles(root, arch, moduleVersion) : { libraries: [], binaries: [], problems: [] };
  return { devices, moduleVersion, moduleLoaded, majors, ...files };
}
