// `version`: what was built, from which commit, for which target.
import { buildInfo } from "../build-info";
import { printLines } from "../engine/stdio";
import { defineCommand } from "./command";
import { checkFlags } from "./flags";

const args = { json: { type: "boolean", description: "print as JSON" } } as const;

export const versionCommand = defineCommand({
  meta: { name: "version", description: "Print version, commit and build target" },
  args,
  run({ args: parsed, rawArgs }) {
    checkFlags(rawArgs, args);
    const { version, commit, target } = buildInfo;
    printLines(parsed.json ? JSON.stringify(buildInfo) : `kube-rootfs ${version} (commit ${commit}, ${target})`);
    return 0;
  },
});

export const versionExamples = ["kube-rootfs version", "kube-rootfs version --json"];
