// --help as a person reads it: only the options the command uses, its own and the common ones
// first, the per-artifact download overrides folded into one pattern at the end, and no line
// wider than the terminal (80 columns when stdout is not one).
import type { ArgDef, ArgsDef } from "citty";
import { fieldByFlag } from "../config/fields";
import { isTerminal } from "../engine/stdio";

export interface HelpEntry {
  name: string;
  description: string;
  args: ArgsDef;
  /** the goal-state settings it reads, by top-level key (others are accepted and change nothing); all when absent */
  uses?: readonly string[];
  examples: string[];
}

/** Goal-state flags a person reaches for first, in this order. */
const COMMON = ["config", "machine", "kubernetes-version", "arch", "mirror", "cache-dir", "offline", "log-format", "verbose"];
const DOWNLOAD = /^downloads-(kubelet|kubectl|kube-proxy|crictl|containerd|runc|cni)-(.+)$/;

export const EXIT_CODES = "0 ok, 1 a run failed, 2 bad usage or config, 3 verify found drift";

export const helpWidth = () => (isTerminal(1) && process.stdout.columns) || 80;

/** Words of `text` in lines of at most `width` columns (a longer word is cut, after a comma or slash when it has one). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > width) {
      if (line) lines.push(line), (line = "");
      const cut = Math.max(word.lastIndexOf(",", width - 1), word.lastIndexOf("/", width - 1)) + 1 || width;
      lines.push(word.slice(0, cut));
      word = word.slice(cut);
    }
    if (line && line.length + 1 + word.length > width) lines.push(line), (line = "");
    line = line ? `${line} ${word}` : word;
  }
  if (line || !lines.length) lines.push(line);
  return lines;
}

/** `term` then its description wrapped in a column; a term too wide for the column gets its own line. */
function rows(items: Array<[term: string, description: string]>, width: number): string[] {
  const column = Math.min(Math.max(...items.map(([t]) => t.length)) + 4, Math.max(12, Math.floor(width * 0.4)));
  return items.flatMap(([term, description]) => {
    const text = wrap(description, Math.max(width - column, 20));
    const head = `  ${term}`;
    const first = head.length < column ? [head.padEnd(column) + text.shift()] : wrap(term, width - 2).map((l) => `  ${l}`);
    return [...first, ...text.map((l) => " ".repeat(column) + l)];
  });
}

const valueOf = (def: ArgDef) => (def.type === "boolean" ? "" : ` <${(def as { valueHint?: string }).valueHint ?? "value"}>`);

/** Examples wrapped as shell lines continued with a backslash. */
function example(cmd: string, width: number): string[] {
  const lines = wrap(cmd, width - 8);
  return lines.map((l, i) => `${i ? "      " : "  "}${l}${i < lines.length - 1 ? " \\" : ""}`);
}

/** `--flag <hint>` as help and the docs show an option. */
export const optionTerm = (flag: string, def: ArgDef) => `--${flag}${valueOf(def)}`;

export const DOWNLOADS_NOTE =
  "Per-artifact download overrides, ARTIFACT one of kubelet, kubectl, kube-proxy, crictl, containerd, runc, cni (env KUBE_ROOTFS_DOWNLOADS_<ARTIFACT>_…):";

/** `<REF>` for a required positional argument, `[REF]` for an optional one. */
const positionalTerm = (def: ArgDef) => {
  const hint = (def as { valueHint?: string }).valueHint ?? "value";
  return (def as { required?: boolean }).required === false ? `[${hint}]` : `<${hint}>`;
};

/** `kube-rootfs image [push] [REF] [options]`: the command line a command takes. */
export const usageLine = (entry: HelpEntry) =>
  ["kube-rootfs", entry.name, ...Object.values(entry.args).filter((d) => d.type === "positional").map(positionalTerm), "[options]"].join(" ");

/**
 * What a command's help lists, in order: its positional arguments; its own options, the common
 * ones, the other goal-state settings it reads; and the per-artifact download overrides as one
 * pattern each (`--downloads-ARTIFACT-url`).
 */
export function helpOptions(entry: HelpEntry): { positionals: Array<[string, ArgDef]>; options: Array<[string, ArgDef]>; downloads: Array<[string, ArgDef]> } {
  const setting = (flag: string) => fieldByFlag.get(flag)?.path[0];
  const all = Object.entries(entry.args);
  const positionals = all.filter(([, def]) => def.type === "positional").map(([, def]): [string, ArgDef] => [positionalTerm(def), def]);
  const shown = all.filter(([flag, def]) => def.type !== "positional" && (!entry.uses || !setting(flag) || entry.uses.includes(setting(flag)!)));
  const own = shown.filter(([flag]) => !COMMON.includes(flag) && !setting(flag));
  const common = COMMON.flatMap((c) => shown.filter(([flag]) => flag === c));
  const rest = shown.filter(([flag]) => setting(flag) && !COMMON.includes(flag) && !DOWNLOAD.test(flag));

  // The 28 per-artifact flags are 4 patterns over 7 artifacts.
  const downloads = new Map<string, ArgDef>();
  for (const [flag, def] of shown) {
    const m = DOWNLOAD.exec(flag);
    if (m && !downloads.has(m[2]!)) downloads.set(m[2]!, { ...def, description: (def.description ?? "").replace(/ \[KUBE_ROOTFS_\w+\]$/, "") });
  }
  return { positionals, options: [...own, ...common, ...rest], downloads: [...downloads].map(([what, def]) => [`downloads-ARTIFACT-${what}`, def]) };
}

export function commandHelp(entry: HelpEntry, width = helpWidth()): string {
  const { positionals, options, downloads } = helpOptions(entry);
  const items = (list: Array<[string, ArgDef]>) => list.map(([flag, def]): [string, string] => [optionTerm(flag, def), def.description ?? ""]);
  const out = [...wrap(entry.description, width), "", ...wrap(`Usage: ${usageLine(entry)}`, width)];
  if (positionals.length) out.push("", "Arguments:", ...rows(positionals.map(([term, def]) => [term, def.description ?? ""]), width));
  out.push("", "Options:", ...rows(items(options), width));
  if (downloads.length) out.push("", ...wrap(DOWNLOADS_NOTE, width), ...rows(items(downloads), width));
  out.push("", "Examples:", ...entry.examples.flatMap((e) => example(e, width)), "", ...wrap(`Exit codes: ${EXIT_CODES}`, width));
  return out.join("\n") + "\n";
}

export function mainHelp(commands: Array<{ name: string; description: string; example?: string }>, version: string, width = helpWidth()): string {
  return [
    ...wrap(`kube-rootfs ${version}: prepare a systemd-nspawn machine that boots a Kubernetes worker node`, width),
    "",
    "Usage: kube-rootfs <command> [options]",
    "       kube-rootfs help [command] | --help | --version",
    "",
    "Commands:",
    ...rows(commands.map((c) => [c.name, c.description]), width),
    "",
    "Examples:",
    ...commands.flatMap((c) => (c.example ? example(c.example, width) : [])),
    "",
    ...wrap(`Run kube-rootfs help <command> for its options. Exit codes: ${EXIT_CODES}`, width),
  ].join("\n") + "\n";
}
