import { defineCommand } from "citty";
import { join } from "node:path";
import { ConfigError } from "../errors";
import { CDI_SPEC_FILE, renderCdiSpec } from "../gpu/cdi";
import { nspawnFiles } from "../rootfs/workspace";
import { commonArgs, goalArgs } from "./args";
import { setup } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  file: { type: "string", description: "print only this file: nspawn, override, or cdi (the GPU CDI spec)", valueHint: "nspawn|override|cdi" },
} as const;

const PICKS = ["nspawn", "override", "cdi"];

export const renderCommand = defineCommand({
  meta: { name: "render", description: "Print the .nspawn settings and the service override for the goal state (and the CDI spec on a GPU host)" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal } = await setup(parsed, rawArgs, args);
    const pick = parsed.file;
    if (pick !== undefined && !PICKS.includes(pick)) throw new ConfigError(`--file: expected ${PICKS.join("|")}, got ${pick}`);
    const gpu = goal.gpu.on;
    if (pick === "cdi" && !gpu) {
      const why = goal.gpu.mode === "none" ? "gpu.mode none" : `no NVIDIA GPU under ${goal.gpu.hostRoot}`;
      throw new ConfigError(`--file cdi: GPU support is off (${why}): there is no CDI spec`);
    }
    const [nspawn, override] = nspawnFiles(goal);
    const cdi: [string, string] | undefined = gpu && [join(goal.machineDir, CDI_SPEC_FILE), renderCdiSpec(gpu)];
    const all = { nspawn: nspawn!, override: override!, ...(cdi ? { cdi } : {}) };
    const files = pick ? [all[pick as keyof typeof all]!] : Object.values(all);
    process.stdout.write(files.map(([path, content]) => (pick ? content : `### ${path}\n${content}`)).join("\n"));
    return 0;
  },
});

/** The settings the files are rendered from (for --help). */
export const renderUses = ["machine", "machineDir", "nspawnConfigFile", "serviceOverrideFile", "hostModules", "hostDevices", "gpu"];

export const renderExamples = [
  "kube-rootfs render --machine kube7",
  "kube-rootfs render --file nspawn --host-devices /dev/kvm > /etc/systemd/nspawn/kube1.nspawn",
  "kube-rootfs render --file cdi",
];
