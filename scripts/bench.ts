// Benchmark: one run, a table and ratios; no timed assertions anywhere in the tests.
// Artifacts, on the realistic set (upstream sizes) served from 127.0.0.1:
//   a) kube-rootfs cold provision of kube+cri+cni into an empty rootfs and empty cache
//   b) the shell baseline: per artifact, sequentially, curl -fsSLo + sha256sum -c + tar -x/install
//   c) warm re-provision (everything installed), whole-process wall and CPU time
//   d) peak RSS of (a), from the same runs
//   e) start-up: `version` and `provision --help`, whole-process wall and CPU time, against the
//      floor: a trivial program compiled the same way
// and, for (a), (c) and (e), where the time goes: the median length of each stage the binary marks
// (KUBE_ROOTFS_TIMINGS, src/engine/timings.ts), so a regression names its stage; for (a) also its
// CPU by thread (main thread, byte workers, HTTP client, file I/O pool, JIT and GC).
// plus this machine's sha256 throughput, and (as root, unless --no-bootstrap) the fresh-machine
// table of scripts/bench-bootstrap.ts (debootstrap, mmdebstrap, snapshot, registry image; cold and
// warm cache; pull + unpack against skopeo + umoci). Targets: a/b ≤ 0.35, a's rate ≥ 30 % of
// sha256 throughput, c ≤ 35 ms, d ≤ 120 MB, version ≤ 22 ms, provision --help ≤ 35 ms, snapshot ≤ 0.25× debootstrap, a fresh machine from a
// loopback registry ≤ 5 s, pull + unpack ≤ the peer. With --slots (as root), the A/B upgrade in a
// nested host of scripts/bench-slots.ts: node downtime ≤ 2 s, a whole upgrade from a warm
// snapshot ≤ 8 s.
// Usage: bun scripts/bench.ts [--no-bootstrap] [--slots] [--mirror-dir DIR] [--bin FILE]
//   --bin: time this executable instead of building one (an earlier build, for before/after)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { serveDir } from "../test/helpers/fault-server";
import { saveRealHost } from "../test/helpers/real-host";
import { removeTempDirs } from "../test/helpers/tmp";
import { benchFreshMachine, printFreshMachine } from "./bench-bootstrap";
import { coldFloor, floorLine } from "./bench-floor";
import { benchSlots, printSlots } from "./bench-slots";
import { breakdown, type Breakdown, buildBinary, coldRun, type ColdRun, median, row, sh, stagesLine, threadsLine, timedRuns } from "./bench-run";
import { buildMirror, type MirrorAsset } from "./mirror";

const { values: opts } = parseArgs({ options: { "no-bootstrap": { type: "boolean" }, slots: { type: "boolean" }, "mirror-dir": { type: "string" }, bin: { type: "string" } } });
const MB = 1024 * 1024;

function sha256Throughput(): number {
  const block = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const data = new Uint8Array(256 * MB);
  for (let o = 0; o < data.length; o += block.length) data.set(block, o);
  const started = performance.now();
  new Bun.CryptoHasher("sha256").update(data).digest("hex");
  return data.length / MB / ((performance.now() - started) / 1000);
}

/** The shell a careful operator would write: sequential, verified, one artifact after another. */
function baselineScript(assets: MirrorAsset[], url: string, root: string): string {
  // The downloads sit beside the root, in the bench's work dir, so they go with it.
  const lines = ["set -euo pipefail", `mkdir -p ${root}.downloads ${root}/usr/local/bin ${root}/opt/cni/bin`, `cd ${root}.downloads`];
  for (const a of assets) {
    const file = a.path.split("/").pop()!;
    lines.push(`curl -fsSLo ${file} ${url}/${a.path}`);
    lines.push(`curl -fsSL ${url}/${a.checksumPath} | awk -v f=${file} 'NF==1{print $1"  "f} NF==2 && ($2==f || $2=="*"f){print $1"  "f}' | sha256sum -c --quiet`);
    if (a.artifact === "kubernetes" || a.artifact === "runc") lines.push(`install -m 0755 ${file} ${root}/usr/local/bin/${a.artifact === "runc" ? "runc" : a.binary}`);
    else if (a.artifact === "containerd") lines.push(`tar -xzf ${file} -C ${root}/usr/local`);
    else if (a.artifact === "cni") lines.push(`tar -xzf ${file} -C ${root}/opt/cni/bin`);
    else lines.push(`tar -xzf ${file} -C ${root}/usr/local/bin`);
  }
  return lines.join("\n") + "\n";
}

/** A program that prints one line, compiled as scripts/build.ts compiles kube-rootfs: the start-up floor. */
async function trivialBinary(dir: string): Promise<string> {
  const source = join(dir, "trivial.ts");
  await Bun.write(source, 'console.log("trivial");\n');
  await sh([process.execPath, "build", "--compile", "--bytecode", "--minify", source, "--outfile", join(dir, "trivial")]);
  return join(dir, "trivial");
}

const work = mkdtempSync(join(process.env.BENCH_DIR ?? "/var/tmp", "kube-rootfs-bench-"));
// Each provision records its machine in this host's manifest (/var/lib/kube-rootfs/host.json):
// put back as found, with anything else the runs changed on the host.
const host = saveRealHost();
try {
  const mirrorDir = opts["mirror-dir"] ?? join(tmpdir(), "kube-rootfs-bench-mirror");
  console.error(`building the realistic mirror in ${mirrorDir} …`);
  const info = await buildMirror({ out: mirrorDir, realistic: true, arch: ["amd64"] });
  const assets = info.assets.filter((a) => a.arch === "amd64" && !a.path.endsWith("runc.armel"));
  const bytes = assets.reduce((n, a) => n + a.size, 0);
  console.error(`building the binary …`);
  const bin = opts.bin ?? (await buildBinary(join(work, "bin")));
  const served = await serveDir(info.dir, { timeoutMs: 1_800_000 });
  // Artifacts and the OS files, as the shell baseline does: the sandbox image's pull is in the
  // fresh-machine table, which builds whole machines. The host task is left out: a bench leaves
  // the host's kernel settings as it found them.
  const provision = (name: string) => [
    bin, "provision", "--machine", `bench-${name}`, "--machine-dir", join(work, name, "root"), "--cache-dir", join(work, name, "cache"),
    "--bootstrap-method", "none", "--nspawn-config-file", join(work, name, "m.nspawn"), "--service-override-file", join(work, name, "o.conf"),
    "--hostname", "bench", "--arch", "amd64", "--mirror", served.url, "--skip-phases", "images,host", "--log-format", "json",
  ];

  const sha = sha256Throughput();
  // Warm the page cache for the mirror files, as a real mirror's would be.
  await sh(["sh", "-c", `cat $(find ${info.dir} -type f) > /dev/null`]);
  // Median of 3 each, alternating, into fresh dirs: one cold run is at the mercy of the machine's other work.
  const baselines: number[] = [];
  const colds: ColdRun[] = [];
  for (let i = 0; i < 3; i++) {
    baselines.push((await sh(["bash", "-c", baselineScript(assets, served.url, join(work, `baseline-${i}`))])).seconds);
    colds.push(await coldRun(provision(`cold-${i}`)));
  }
  const baseline = { seconds: median(baselines) };
  const coldBreakdown = breakdown(colds);
  const cold = { seconds: coldBreakdown.ms / 1000 };
  const rss = median(colds.map((r) => r.rssBytes));
  const parts = await coldFloor(assets, info.dir, served.url, sha, work);
  const trivial = await trivialBinary(join(work, "bin"));
  const [warm, version, help, floor] = timedRuns([provision("cold-0"), [bin, "version"], [bin, "provision", "--help"], [trivial, "version"]], 15).map(breakdown) as [Breakdown, Breakdown, Breakdown, Breakdown];

  const rate = bytes / MB / cold.seconds;
  console.log(`\nartifacts: ${(bytes / MB).toFixed(0)} MiB (amd64 realistic set), loopback mirror\n`);
  row("sha256 throughput of this machine (Bun.CryptoHasher)", `${sha.toFixed(0)} MB/s`);
  row("(b) shell baseline: curl, sha256sum -c, tar (median of 3)", `${baseline.seconds.toFixed(2)} s`, `${(bytes / MB / baseline.seconds).toFixed(0)} MB/s`);
  row("(a) kube-rootfs cold provision (median of 3)", `${cold.seconds.toFixed(2)} s (CPU ${(coldBreakdown.cpuMs / 1000).toFixed(2)})`, `${rate.toFixed(0)} MB/s`);
  console.log(`      ${stagesLine(coldBreakdown)}`);
  console.log(`      CPU by thread: ${threadsLine(colds)}`);
  row(`    its floor: the parts alone, every core busy (${parts.cores} cores)`, `${parts.seconds.toFixed(2)} s`, `a/b ≥ ${(parts.seconds / baseline.seconds).toFixed(2)}; rate ≤ ${((bytes / MB / parts.seconds / sha) * 100).toFixed(0)} % of sha256`);
  console.log(`      ${floorLine(parts)}`);
  const times = (b: Breakdown) => `${b.ms.toFixed(0)} ms (CPU ${b.cpuMs.toFixed(0)})`;
  row("(c) warm re-provision (median of 15)", times(warm), "target ≤ 35 ms");
  console.log(`      ${stagesLine(warm)}`);
  const rssMax = Math.max(...colds.map((r) => r.rssBytes));
  row("(d) peak RSS of a cold provision (median of 3; max)", Number.isNaN(rss) ? "n/a (no GNU time)" : `${(rss / MB).toFixed(0)} MB; ${(rssMax / MB).toFixed(0)}`, "target ≤ 120 MB");
  row("(e) start-up: version (median of 15)", times(version), "target ≤ 22 ms");
  console.log(`      ${stagesLine(version)}`);
  row("    provision --help (median of 15)", times(help), "target ≤ 35 ms");
  console.log(`      ${stagesLine(help)}`);
  row("    the floor: a trivial program compiled the same way", times(floor));
  row("a/b", (cold.seconds / baseline.seconds).toFixed(2), "target ≤ 0.35");
  row("a's rate / sha256 throughput", `${((rate / sha) * 100).toFixed(0)} %`, "target ≥ 30 %");

  if (!opts["no-bootstrap"] && process.getuid?.() === 0) {
    console.error("fresh-machine figures (takes several minutes) …");
    printFreshMachine(await benchFreshMachine(bin, served.url, work), row);
  }
  if (opts.slots && process.getuid?.() === 0) {
    console.error("A/B upgrade in a nested host (takes a few minutes) …");
    printSlots(await benchSlots(bin), row);
  }
  served.stop();
} finally {
  host.restore();
  rmSync(work, { recursive: true, force: true });
  removeTempDirs(); // the test helpers' mirrors and registries
}
