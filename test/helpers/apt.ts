// The Debian archive and suite this host's apt already uses, read at run time from its
// sources by the same code the tool uses, so no mirror's name is written in the repo.
import { hostAptSources, mirrorFor, type HostAptSource } from "../../src/host/apt-sources";
import { knownDistro } from "../../src/host/distro";

/** The first Debian release pocket (not -updates or -security) the host's apt uses. */
export function hostDebianMirror(sources: HostAptSource[] = hostAptSources()): { mirror: string; suite: string } {
  for (const s of sources) {
    const suite = s.suites.find((x) => knownDistro(x) === "debian");
    const mirror = suite && mirrorFor(suite, [s]);
    if (suite && mirror) return { mirror, suite };
  }
  throw new Error("this host's apt sources name no Debian release suite to bootstrap from");
}
