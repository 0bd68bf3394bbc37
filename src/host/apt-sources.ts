// The archives this host's apt uses, read from its sources (one-line *.list and deb822
// *.sources), so the host's own suite is bootstrapped from the mirror the host already trusts.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readText } from "../fs/read";
import { normaliseMirror } from "./distro";

export interface HostAptSource {
  uri: string;
  suites: string[];
}

/** `deb [opts] uri suite components…` lines. */
export function parseOneLine(text: string): HostAptSource[] {
  return text
    .split("\n")
    .map((l) => l.replace(/#.*/, "").replace(/\[[^\]]*\]/, "").trim().split(/\s+/))
    .filter((w) => w[0] === "deb" && w.length >= 3)
    .map((w) => ({ uri: w[1]!, suites: [w[2]!] }));
}

/** deb822 stanzas with Types: deb, skipping Enabled: no. */
export function parseDeb822(text: string): HostAptSource[] {
  return text.split(/\n\s*\n/).flatMap((stanza) => {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "im").exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (!field("Types").includes("deb") || field("Enabled")[0] === "no") return [];
    return field("URIs").map((uri) => ({ uri, suites: field("Suites") }));
  });
}

const readOrEmpty = (p: string) => readText(p) ?? "";

export function hostAptSources(etc = "/etc/apt"): HostAptSource[] {
  let parts: string[] = [];
  try {
    parts = readdirSync(join(etc, "sources.list.d")).sort();
  } catch {
    // no sources.list.d
  }
  const part = (n: string) => readOrEmpty(join(etc, "sources.list.d", n));
  return [
    ...parseOneLine(readOrEmpty(join(etc, "sources.list"))),
    ...parts.filter((n) => n.endsWith(".list")).flatMap((n) => parseOneLine(part(n))),
    ...parts.filter((n) => n.endsWith(".sources")).flatMap((n) => parseDeb822(part(n))),
  ];
}

/** The first http(s) or file archive that carries `suite` itself (not -updates or -security). */
export function mirrorFor(suite: string, sources: HostAptSource[]): string | undefined {
  const s = sources.find((src) => src.suites.includes(suite) && /^(https?|file):\/\//.test(src.uri));
  return s && normaliseMirror(s.uri);
}
