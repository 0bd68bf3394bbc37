// The host firewall's FORWARD policy, read with the tools that manage it when they are installed
// (nft for nftables and iptables-nft; iptables for the legacy tables): a policy of drop throws
// away the pod traffic the node routes.
import { run as runCommand, type Ran } from "../engine/command";
import { readText } from "../fs/read";
import { toolPath } from "./tools";
import { realpathSync } from "node:fs";
import { basename, join } from "node:path";

/** How a tool is run (a test passes its own). */
export type Runner = (argv: string[]) => Promise<Pick<Ran, "code" | "stdout">>;

export interface ForwardPolicy {
  /** where each drop policy was found: `nft table ip filter chain FORWARD`, `iptables FORWARD` */
  drops: string[];
  /** the tools that could be asked */
  read: string[];
}

interface NftChain {
  family?: string;
  table?: string;
  name?: string;
  hook?: string;
  policy?: string;
}

/** Chains hooked on forward with policy drop, from `nft -j list ruleset`. */
export function nftForwardDrops(json: string): string[] {
  let items: Array<{ chain?: NftChain }> = [];
  try {
    items = (JSON.parse(json) as { nftables?: Array<{ chain?: NftChain }> }).nftables ?? [];
  } catch {
    return [];
  }
  return items
    .map((i) => i.chain)
    .filter((c): c is NftChain => c?.hook === "forward" && c.policy === "drop")
    .map((c) => `nft table ${c.family} ${c.table} chain ${c.name}`);
}

/** `-P FORWARD DROP` in `iptables -S FORWARD`. */
export const iptablesForwardDrops = (rules: string) => (/^-P FORWARD DROP$/m.test(rules) ? ["iptables FORWARD"] : []);

export type IptablesVariant = "nft" | "legacy";

/**
 * The tables an iptables binary works on, when the name it resolves to says so: the alternatives
 * of Debian, Ubuntu and Red Hat link iptables to xtables-nft-multi or xtables-legacy-multi
 * (through iptables-nft or iptables-legacy). Undefined for any other name: its --version tells.
 */
export function iptablesVariantByName(tool: string): IptablesVariant | undefined {
  let name: string;
  try {
    name = basename(realpathSync(tool));
  } catch {
    return undefined;
  }
  return /^(xtables|iptables)-nft(-multi)?$/.test(name) ? "nft" : /^(xtables|iptables)-legacy(-multi)?$/.test(name) ? "legacy" : undefined;
}

/**
 * The FORWARD policy as nft sees it (nftables, and iptables-nft's tables), and as each iptables
 * sees it that nft did not cover: the legacy one only when its filter table is loaded (asking
 * would load the module otherwise).
 */
export async function forwardPolicy(
  proc = "/proc",
  which: (cmd: string) => string | null = toolPath,
  run: Runner = runCommand,
  variantByName: (tool: string) => IptablesVariant | undefined = iptablesVariantByName,
): Promise<ForwardPolicy> {
  const out: ForwardPolicy = { drops: [], read: [] };
  const nft = which("nft");
  if (nft) {
    const r = await run([nft, "-j", "list", "ruleset"]);
    if (r.code === 0) {
      out.read.push("nft");
      out.drops.push(...nftForwardDrops(r.stdout));
    }
  }
  const legacyLoaded = /^filter$/m.test(readText(join(proc, "net/ip_tables_names")) ?? "");
  const tools = [...new Set([which("iptables"), which("iptables-legacy")].filter((t): t is string => Boolean(t)))];
  for (const tool of tools) {
    // Its name spares a process where it tells: start-up pays for every one.
    const variant = variantByName(tool) ?? (/nf_tables/.test((await run([tool, "--version"])).stdout) ? "nft" : "legacy");
    if (variant === "nft" ? out.read.includes("nft") : !legacyLoaded) continue;
    const r = await run([tool, "-S", "FORWARD"]);
    if (r.code !== 0) continue;
    out.read.push(basename(tool));
    out.drops.push(...iptablesForwardDrops(r.stdout).map((d) => d.replace("iptables", basename(tool))));
  }
  return out;
}
