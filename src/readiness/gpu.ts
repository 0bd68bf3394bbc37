// What readiness and doctor say about the host's NVIDIA driver: what was found (driver version,
// GPUs, device nodes, driver files), what does not fit together, and whether the containerd
// being installed can hand the GPUs to pods (CDI).
import type { Resolved } from "../config/resolve";
import { gpuIndexes, type NvidiaHost } from "../host/nvidia";
import { containerdHasCdi } from "../runtime/templates/containerd";
import { bad, ok, type Check } from "./check";

/** The driver name /proc/devices registers the major of each kind of node under. */
function driverOf(path: string): string[] {
  if (/^\/dev\/nvidia-uvm/.test(path)) return ["nvidia-uvm"];
  if (path.startsWith("/dev/nvidia-caps/")) return ["nvidia-caps"];
  return ["nvidia-frontend", "nvidia"];
}

/** Libraries whose file name carries the driver version (libcuda.so.550.54.15). */
const VERSIONED = /\/(libcuda|libnvidia-ml)\.so\.(\d+\.\d+(?:\.\d+)?)$/;

/** What does not fit together on this host: each a sentence. */
export function gpuMismatches(host: NvidiaHost): string[] {
  const out: string[] = [...host.problems];
  const first = host.devices.find((d) => gpuIndexes([d]).length);
  if (first && !host.moduleLoaded) out.push(`${first.path} is present but the nvidia kernel module is not loaded`);
  for (const d of host.devices) {
    const names = driverOf(d.path).filter((n) => host.majors[n] !== undefined);
    const major = names.length ? host.majors[names[0]!] : undefined;
    if (major !== undefined && major !== d.major) out.push(`${d.path} is char ${d.major}:${d.minor} but the driver's ${names[0]} major is ${major} (a stale node)`);
  }
  for (const lib of host.libraries) {
    const v = VERSIONED.exec(lib)?.[2];
    if (v && host.moduleVersion && v !== host.moduleVersion) out.push(`${lib} is of driver ${v}, the kernel module is ${host.moduleVersion}`);
  }
  if (!host.libraries.length) out.push("no NVIDIA driver libraries in the host's linker cache (ldconfig -p)");
  return out;
}

const describe = (host: NvidiaHost) =>
  [
    `NVIDIA driver ${host.moduleVersion ?? "of unknown version"}`,
    `GPUs ${gpuIndexes(host.devices).join(", ")}`,
    `device nodes ${host.devices.map((d) => `${d.path} (${d.major}:${d.minor})`).join(" ")}`,
    `${host.libraries.length} libraries, ${host.binaries.length} tools${host.firmware ? ", firmware" : ""} bound read-only`,
  ].join("; ");

/** Readiness checks GPUs when the run will pass them in, or was told to. */
export const gpuNeeded = (goal: Resolved) => goal.gpu.mode === "nvidia" || Boolean(goal.gpu.on);

export function gpuCheck(goal: Resolved): Check {
  return {
    name: "gpu",
    run() {
      const { mode, on, hostRoot } = goal.gpu;
      const where = hostRoot === "/" ? "" : ` under ${hostRoot}`;
      if (!on) {
        const none = `no NVIDIA GPU on the host (/dev/nvidiactl and a /dev/nvidiaN${where})`;
        if (mode !== "nvidia") return ok(`${none}: GPU support off`);
        return bad("fail", `gpu.mode nvidia: ${none}`, "install and load the NVIDIA driver (nvidia-smi must work on the host), or use --gpu-mode auto");
      }
      const found = describe(on);
      const containerd = goal.downloads.containerd.version ?? goal.versions.containerd;
      if (!containerdHasCdi(containerd)) {
        const fix = "install containerd 1.7 or later (--containerd-version), whose CRI plugin reads the CDI spec";
        return bad(mode === "nvidia" ? "fail" : "warn", `${found}; but containerd ${containerd} has no CDI, so pods cannot be given the GPUs`, fix);
      }
      const mismatches = gpuMismatches(on);
      if (mismatches.length) return bad("warn", `${found}; ${mismatches.join("; ")}`, "reload the NVIDIA driver (or reboot) so its module, nodes and libraries are of one install, then provision again");
      return ok(found);
    },
  };
}
