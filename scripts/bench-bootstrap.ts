// Fresh-machine figures, one table: a whole new machine (rootfs + artifacts into an empty
// machine dir, the compiled binary's wall time) per rootfs source (debootstrap, mmdebstrap, a
// snapshot, an image on a loopback docker-registry), with a cold cache (empty) and a warm one
// (what that source caches is there: .debs, artifacts, image blobs; a bootstrap tool still runs).
// Then the peer: the same image's pull + unpack into an empty dir by kube-rootfs against
// `skopeo copy` + `umoci unpack` (gzip layer: this umoci reads no zstd), median of 3 each.
// Needs root, debootstrap, mmdebstrap, docker-registry, skopeo, umoci and the host's apt mirror.
// Targets: a fresh machine from the loopback registry ≤ 5 s; pull + unpack ≤ the peer.
// Every machine (and the peer's tree) stays until the table is done: on ext4 without a journal
// the kernel skips inodes freed in the last minutes, one by one, when it allocates, so a tree
// unpacked just after removing one costs several times more (here, GNU tar of this rootfs:
// ~3 s instead of ~0.25 s) and a row would time the previous row's cleanup, not a fresh host.
// Usage: bun scripts/bench-bootstrap.ts   (scripts/bench.ts runs it too, on its realistic mirror)
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { readSidecar } from "../src/rootfs/bootstrap/snapshot";
import { hostDebianMirror } from "../test/helpers/apt";
import { serveDir } from "../test/helpers/fault-server";
import { startRegistry } from "../test/helpers/registry";
import { sandboxRegistry } from "../test/helpers/sandbox-registry";
import { buildBinary, median, row, sh } from "./bench-run";
import { buildMirror } from "./mirror";

export interface FreshRow {
  source: string;
  cold: number;
  warm: number;
}

export interface FreshMachine {
  rows: FreshRow[];
  /** kube-rootfs pull + unpack of the rootfs alone, and skopeo copy + umoci unpack, seconds */
  pull: number;
  peer: number;
}

/** Leaves its machines in `work` (several GB): the caller removes it when done. */
export async function benchFreshMachine(bin: string, artifactsURL: string, work: string): Promise<FreshMachine> {
  const { mirror, suite } = hostDebianMirror();
  const machines = join(work, "machines");
  mkdirSync(machines, { recursive: true });
  // A whole machine pre-loads the sandbox image too: from a loopback registry, never the internet.
  const sandbox = ["--runtime-sandbox-image", (await sandboxRegistry()).image];
  let n = 0;
  /** provision one new machine; its wall time. `install: false` stops after the rootfs. The host task is left out: a bench leaves the host's kernel settings alone. */
  const fresh = async (cacheDir: string, source: string[], install = true) => {
    const name = `bench-fresh${n++}`;
    const argv = [
      bin, "provision", "--machine", name, "--machine-dir", join(machines, name), "--nspawn-config-file", join(machines, `${name}.nspawn`),
      "--service-override-file", join(machines, `${name}.conf`), "--cache-dir", cacheDir, "--hostname", "bench", "--mirror", artifactsURL,
      "--bootstrap-suite", suite, "--bootstrap-mirror", mirror, "--log-format", "json", ...sandbox, ...source, "--skip-phases", install ? "host" : "host,install,runtime,record",
    ];
    return (await sh(argv)).seconds;
  };
  const cache = (name: string) => join(work, `cache-${name}`);
  const rows: FreshRow[] = [];
  // Each row is told as soon as it is measured: a long run that fails late still says what it saw.
  const record = (row: FreshRow) => {
    console.error(`  ${row.source}: cold ${row.cold.toFixed(1)} s, warm ${row.warm.toFixed(1)} s`);
    rows.push(row);
  };

  for (const tool of ["debootstrap", "mmdebstrap"]) {
    console.error(`fresh machine: ${tool}, cold then warm …`);
    const cold = await fresh(cache(tool), ["--bootstrap-tool", tool]);
    rmSync(join(cache(tool), "rootfs"), { recursive: true, force: true }); // else the warm run restores instead
    record({ source: `${tool} ${suite}`, cold, warm: await fresh(cache(tool), ["--bootstrap-tool", tool]) });
  }

  const snapshotDir = join(cache("mmdebstrap"), "rootfs");
  const snapshot = join(snapshotDir, readdirSync(snapshotDir).find((f) => /\.tar\.(zst|gz)$/.test(f))!);
  const tarball = ["--bootstrap-method", "tarball", "--bootstrap-tarball", snapshot, "--bootstrap-sha256", readSidecar(snapshot)!];
  console.error("fresh machine: snapshot …");
  record({ source: "snapshot (bootstrap.method tarball)", cold: await fresh(cache("tarball"), tarball), warm: await fresh(cache("tarball"), tarball) });

  const registry = await startRegistry();
  try {
    const push = (tag: string, extra: string[]) =>
      sh([bin, "image", "push", `${registry.host}/bench/rootfs:${tag}`, "--cache-dir", cache("mmdebstrap"), "--bootstrap-tool", "mmdebstrap", "--bootstrap-suite", suite, "--bootstrap-mirror", mirror, "--log-format", "json", ...extra]);
    await push("zstd", []);
    await push("gzip", ["--compression", "gzip"]);
    const image = (tag: string) => ["--bootstrap-method", "image", "--bootstrap-image", `${registry.host}/bench/rootfs:${tag}`];
    console.error("fresh machine: registry image …");
    record({ source: "image on a loopback registry (zstd)", cold: await fresh(cache("image"), image("zstd")), warm: await fresh(cache("image"), image("zstd")) });

    console.error("pull + unpack against skopeo copy + umoci unpack …");
    const pulls: number[] = [];
    const peers: number[] = [];
    for (let i = 0; i < 3; i++) {
      pulls.push(await fresh(cache(`pull${i}`), image("gzip"), false));
      const oci = join(work, `peer${i}`);
      mkdirSync(oci);
      peers.push((await sh(["sh", "-c", `skopeo copy --quiet --src-tls-verify=false docker://${registry.host}/bench/rootfs:gzip oci:${oci}/layout:x && umoci unpack --image ${oci}/layout:x ${oci}/bundle`])).seconds);
    }
    return { rows, pull: median(pulls), peer: median(peers) };
  } finally {
    registry.stop();
  }
}

export function printFreshMachine(r: FreshMachine, row: (name: string, value: string, target?: string) => void): void {
  console.log("\nfresh machine (rootfs + artifacts, empty machine dir)        cold cache    warm cache");
  for (const x of r.rows) console.log(`${x.source.padEnd(58)} ${x.cold.toFixed(1).padStart(8)} s ${x.warm.toFixed(1).padStart(10)} s`);
  const image = r.rows.find((x) => x.source.startsWith("image"))!;
  const [debootstrap, snapshot] = [r.rows[0]!, r.rows.find((x) => x.source.startsWith("snapshot"))!];
  row("snapshot / debootstrap, warm", (snapshot.warm / debootstrap.warm).toFixed(3), "target ≤ 0.25");
  row("image on a loopback registry, warm / cold", `${image.warm.toFixed(1)} / ${image.cold.toFixed(1)} s`, "target ≤ 5 s");
  row("pull + unpack, kube-rootfs (median of 3)", `${r.pull.toFixed(2)} s`);
  row("pull + unpack, skopeo copy + umoci unpack (median of 3)", `${r.peer.toFixed(2)} s`);
  row("kube-rootfs / peer", (r.pull / r.peer).toFixed(2), "target ≤ 1");
}

if (import.meta.main) {
  const work = mkdtempSync(join(process.env.BENCH_DIR ?? "/var/tmp", "kube-rootfs-bench-fresh-"));
  try {
    const info = await buildMirror({ out: join(work, "mirror"), arch: [process.arch === "arm64" ? "arm64" : "amd64"] });
    const served = await serveDir(info.dir);
    try {
      const result = await benchFreshMachine(await buildBinary(join(work, "bin")), served.url, work);
      printFreshMachine(result, row);
    } finally {
      served.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
