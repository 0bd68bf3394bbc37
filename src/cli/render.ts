import { defineCommand } from "./command";
import { ConfigError } from "../errors";
import { writeStdout } from "../engine/stdio";
import { renderedFiles, type Rendered } from "../rendered";
import { commonArgs, goalArgs } from "./args";
import { setup } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  file: { type: "string", description: "print only this file's content, by name (nspawn, override, containerd-config, kubelet-config, cdi, …; a wrong name lists them)", valueHint: "NAME" },
} as const;

/** A file written 0600 holds a credential (the bootstrap kubeconfig's token): its content stays off stdout. */
const isPrivate = (mode: number) => (mode & 0o077) === 0;

function body(r: Rendered): string {
  if (r.kind === "link") return `symlink to ${r.target}\n`;
  if (r.kind === "pending") return `# not rendered: ${r.why}\n`;
  return isPrivate(r.mode) ? `# not printed: written with mode 0${r.mode.toString(8)}, it holds a credential\n` : r.content;
}

export const renderCommand = defineCommand({
  meta: { name: "render", description: "Print every file provision writes from a template for the goal state, each under a ### <path> header: the host's sysctl file, the nspawn settings and service override, the OS files, containerd's and kubelet's configuration and units, registry mirrors, the images unit, the unit links (and the CDI spec on a GPU host)" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal } = await setup(parsed, rawArgs, args);
    const pick = parsed.file;
    if (pick === "cdi" && !goal.gpu.on) {
      const why = goal.gpu.mode === "none" ? "gpu.mode none" : `no NVIDIA GPU under ${goal.gpu.hostRoot}`;
      throw new ConfigError(`--file cdi: GPU support is off (${why}): there is no CDI spec`);
    }
    const all = renderedFiles(goal);
    if (pick === undefined) {
      writeStdout(all.map((r) => `### ${r.path}\n${body(r)}`).join("\n"));
      return 0;
    }
    const one = all.find((r) => r.name === pick);
    if (!one) throw new ConfigError(`--file: unknown ${pick} (names: ${all.map((r) => r.name).join(", ")})`);
    writeStdout(body(one));
    return 0;
  },
});

/** The settings the files are rendered from (for --help). */
export const renderUses = [
  "machine", "machineDir", "nspawnConfigFile", "serviceOverrideFile", "arch", "hostname", "hostModules", "hostDevices", "hostResolvConf", "gpu", "host",
  "versions", "downloads", "bootstrap", "runtime", "kubelet", "images", "lock", "skipPhases",
];

export const renderExamples = [
  "kube-rootfs render --machine kube7",
  "kube-rootfs render --file nspawn --host-devices /dev/kvm > /etc/systemd/nspawn/kube1.nspawn",
  "kube-rootfs render --file containerd-config --containerd-version 1.7.27",
  "diff <(kube-rootfs render --containerd-version 1.7.27) <(kube-rootfs render --containerd-version 2.0.4)",
  "kube-rootfs render --file cdi",
];
