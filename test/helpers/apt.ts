// The Debian archive and suite this host's apt already uses, read at run time from its
// sources (one-line *.list and deb822 *.sources), so no mirror's name is written in the repo.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { distroOf } from "../../src/rootfs/distro";

export interface AptSource {
  uri: string;
  suites: string[];
}

/** `deb [opts] uri suite components…` lines. */
export function parseOneLine(text: string): AptSource[] {
  return text
    .split("\n")
    .map((l) => l.replace(/#.*/, "").replace(/\[[^\]]*\]/, "").trim().split(/\s+/))
    .filter((w) => w[0] === "deb" && w.length >= 3)
    .map((w) => ({ uri: w[1]!, suites: [w[2]!] }));
}

/** deb822 stanzas with Types: deb, skipping Enabled: no. */
export function parseDeb822(text: string): AptSource[] {
  return text.split(/\n\s*\n/).flatMap((stanza) => {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "im").exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (!field("Types").includes("deb") || field("Enabled")[0] === "no") return [];
    return field("URIs").map((uri) => ({ uri, suites: field("Suites") }));
  });
}

export function hostAptSources(etc = "/etc/apt"): AptSource[] {
  const read = (p: string) => {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return "";
    }
  };
  let parts: string[] = [];
  try {
    parts = readdirSync(join(etc, "sources.list.d")).sort();
  } catch {
    // no sources.list.d
  }
  return [
    ...parseOneLine(read(join(etc, "sources.list"))),
    ...parts.filter((n) => n.endsWith(".list")).flatMap((n) => parseOneLine(read(join(etc, "sources.list.d", n)))),
    ...parts.filter((n) => n.endsWith(".sources")).flatMap((n) => parseDeb822(read(join(etc, "sources.list.d", n)))),
  ];
}

const isDebianRelease = (suite: string) => {
  try {
    return distroOf(suite) === "debian";
  } catch {
    return false;
  }
};

/** The first Debian release pocket (not -updates or -security) the host's apt uses. */
export function hostDebianMirror(sources = hostAptSources()): { mirror: string; suite: string } {
  for (const s of sources) {
    const suite = s.suites.find(isDebianRelease);
    if (suite) return { mirror: s.uri.replace(/\/+$/, ""), suite };
  }
  throw new Error("this host's apt sources name no Debian release suite to bootstrap from");
}
