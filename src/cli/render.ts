import { defineCommand } from "citty";
import { ConfigError } from "../errors";
import { nspawnFiles } from "../rootfs/workspace";
import { commonArgs, goalArgs } from "./args";
import { setup } from "./goal";

const args = {
  ...goalArgs,
  ...commonArgs,
  file: { type: "string", description: "print only this file: nspawn or override", valueHint: "nspawn|override" },
} as const;

export const renderCommand = defineCommand({
  meta: { name: "render", description: "Print the .nspawn settings and the service override for the goal state" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { goal } = await setup(parsed, rawArgs, args);
    const [nspawn, override] = nspawnFiles(goal);
    const pick = parsed.file;
    if (pick !== undefined && pick !== "nspawn" && pick !== "override") {
      throw new ConfigError(`--file: expected nspawn|override, got ${pick}`);
    }
    const files = pick === "nspawn" ? [nspawn!] : pick === "override" ? [override!] : [nspawn!, override!];
    process.stdout.write(files.map(([path, content]) => (pick ? content : `### ${path}\n${content}`)).join("\n"));
    return 0;
  },
});

/** The settings the two files are rendered from (for --help). */
export const renderUses = ["machine", "nspawnConfigFile", "serviceOverrideFile", "hostModules", "hostDevices", "gpu"];

export const renderExamples = [
  "kube-rootfs render --machine kube7",
  "kube-rootfs render --file nspawn --host-devices /dev/kvm > /etc/systemd/nspawn/kube1.nspawn",
];
