// The A/B switch, measured in a nested host (systemd as PID 1, test/helpers/nested-host.ts):
// kube1 is provisioned from the snapshot and started, then each `upgrade` provisions the idle
// slot afresh and switches to it, and its last JSON event says the node's downtime (stop of the
// old machine to the new one healthy) and the whole upgrade's time. Rows: the snapshot as the
// idle slot's base (first with the new version's artifacts still to fetch, then with all of it
// cached), and a registry image as base (cold, then its blobs cached). The registry is Debian's
// docker-registry: filled on this host's loopback, then served from the nested host's own
// network namespace, where the nested host's kube-rootfs reaches it on its loopback.
// Also: `stop` of the node with the default shutdown grace and no inhibitor (powered off through
// the machine's own systemd), and the drain (src/kube's, kubectl drain's behaviour) of 20 pods,
// none blocked, against the test API server (TLS, client certificate; 200 ms per pod's deletion).
// Each row also says where the upgrade's time went, from its stage marks (KUBE_ROOTFS_TIMINGS):
// before the switch (the idle slot's provision: the restore, the flush), the switch while the node
// still runs (the old slot disabled), while it is down (the old slot powered off, the new one
// started, booted, containerd, healthy), and after it (the record, deleting the replaced rootfs).
// Targets: downtime ≤ 2 s; a whole upgrade from a warm snapshot ≤ 8 s.
// Needs root, mmdebstrap, systemd-container, docker-registry and the host's apt mirror.
// Usage: bun scripts/bench-slots.ts   (scripts/bench.ts --slots runs it too)
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { registryOptions } from "../src/config/client-options";
import { TIMINGS_ENV } from "../src/engine/timings";
import { buildImage } from "../src/images/build";
import { pushImages } from "../src/images/push";
import { parseRegistryRef } from "../src/oci/ref";
import { Registry } from "../src/oci/registry";
import { KubeClient } from "../src/kube/client";
import { drain, planDrain } from "../src/kube/drain";
import { readKubeconfig } from "../src/kube/kubeconfig";
import { events } from "../test/helpers/binary";
import { startTestApiServer } from "../test/helpers/test-apiserver";
import { testGoal } from "../test/helpers/goal";
import { combinedTestMirror } from "../test/helpers/mirror";
import { nestedHost, type NestedHost } from "../test/helpers/nested-host";
import { startRegistry } from "../test/helpers/registry";
import { removeTempDirs } from "../test/helpers/tmp";
import { breakdown, buildBinary, marksOf, median, row, stagesLine, type TimedRun } from "./bench-run";

export interface SlotsBench {
  rows: SwitchRow[];
  /** kube-rootfs stop of the running node, default grace, no inhibitor */
  stopMs: number;
  /** draining 20 pods, median of 3 */
  drainMs: number;
}

export interface SwitchRow {
  base: string;
  downtimeMs: number;
  totalMs: number;
  /** each stage's own length (KUBE_ROOTFS_TIMINGS marks), in the order the upgrade ran them */
  stages: Array<[string, number]>;
}

/** The stage that ends as the switch begins (everything before it is the provision), the one that ends as the node goes down, and the one that ends its downtime. */
const SWITCH = "switch";
const DOWN = "old slot disabled";
const HEALTHY = "healthy";

/** The stage marks an upgrade wrote: without them a row cannot be broken down. */
function upgradeMarks(stderr: string): Record<string, number> {
  const marks = marksOf(stderr);
  if (!marks) throw new Error(`no timings line in: ${stderr.slice(-500)}`);
  return marks;
}

const OLD = "1.33.1";
const NEW = "1.34.0";
const ARCH = process.arch === "arm64" ? "arm64" : "amd64";

/** Drain 20 pods (none blocked) through the Eviction API of the test API server; median of 3, in ms. */
export async function benchDrain(): Promise<number> {
  const api = await startTestApiServer({ podGraceMs: 200 });
  const signal = new AbortController().signal;
  try {
    const client = new KubeClient(readKubeconfig(api.kubeconfig({ cn: "bench" })));
    const times: number[] = [];
    for (let run = 0; run < 3; run++) {
      const node = `bench-${run}`;
      api.addNode(node, {});
      for (let i = 0; i < 20; i++) api.addPod({ namespace: "apps", name: `web-${run}-${i}`, nodeName: node, owner: { kind: "ReplicaSet", name: "web" } });
      const t = performance.now();
      await drain(client, await planDrain(client, node, signal), { timeoutMs: 60_000, signal });
      times.push(performance.now() - t);
    }
    return median(times);
  } finally {
    await api.stop();
  }
}

/** Build a nested host, provision and start kube1, time stop and the upgrades of each row, and the drain. */
export async function benchSlots(bin: string): Promise<SlotsBench> {
  const { dir: mirrorDir } = await combinedTestMirror([OLD, NEW].map((kubernetes) => ({ kubernetes, arch: [ARCH] })));
  const host = await nestedHost({ name: "bs-host", bin, mirrorDir });
  const rows: SwitchRow[] = [];
  try {
    await must(host.kubeRootfs("provision", "--machine", "kube1", ...host.provisionArgs, "--kubernetes-version", OLD), "provision kube1");
    await must(host.kubeRootfs("start", "--machine", "kube1", "--timeout", "180"), "start kube1");
    const t = performance.now();
    await must(host.kubeRootfs("stop", "--machine", "kube1"), "stop kube1");
    const stopMs = performance.now() - t;
    console.error(`  stop, default grace, no inhibitor: ${Math.round(stopMs)} ms`);
    await must(host.kubeRootfs("start", "--machine", "kube1", "--timeout", "180"), "start kube1 again");
    // kube1 → kube2 → kube1 → …: each upgrade provisions the slot the previous one left idle.
    // A cold row is one run (a second would find its cache warm); a warm row the median of 3.
    const upgrade = async (base: string, args: string[], runs = 1) => {
      const each: Array<{ downtimeMs: number; totalMs: number; run: TimedRun }> = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        const r = await must(host.sh("env", `${TIMINGS_ENV}=1`, "kube-rootfs", "upgrade", "--timeout", "180", ...args, "--log-format", "json"), `upgrade (${base})`);
        // The update's last word comes before the deletion of the rootfs it replaced.
        const fields = events(r.stdout).find((e) => e.fields?.totalMs !== undefined)?.fields ?? {};
        const x = { downtimeMs: Number(fields.downtimeMs), totalMs: Number(fields.totalMs), run: { ms: performance.now() - t, cpuMs: NaN, marks: upgradeMarks(r.stderr) } };
        each.push(x);
        console.error(`  ${base}: downtime ${x.downtimeMs} ms, upgrade ${x.totalMs} ms; ${stagesLine(breakdown([x.run]))}`);
      }
      const mid = (k: "downtimeMs" | "totalMs") => median(each.map((x) => x[k]));
      rows.push({ base: runs > 1 ? `${base}, median of ${runs}` : base, downtimeMs: mid("downtimeMs"), totalMs: mid("totalMs"), stages: breakdown(each.map((x) => x.run)).stages });
    };
    await upgrade("snapshot, new version's artifacts", ["--kubernetes-version", NEW]);
    await upgrade("snapshot, all cached (warm)", ["--kubernetes-version", OLD], 3);
    const image = await serveImageInside(host);
    try {
      await upgrade("registry image, cold", ["--bootstrap-method", "image", "--bootstrap-image", image.ref]);
      await upgrade("registry image, blobs cached", ["--bootstrap-method", "image", "--bootstrap-image", image.ref], 3);
    } finally {
      image.stop();
    }
    return { rows, stopMs, drainMs: await benchDrain() };
  } finally {
    await host.dispose();
  }
}

async function must(run: Promise<{ code: number; stdout: string; stderr: string }>, what: string) {
  const r = await run;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}\n${r.stdout.slice(-2000)}`);
  return r;
}

/**
 * The nested host's snapshot as a one-layer image on a docker-registry that listens on the
 * nested host's loopback: pushed here first, then the same storage and config served from
 * inside its network namespace.
 */
async function serveImageInside(host: NestedHost): Promise<{ ref: string; stop(): void }> {
  const outside = await startRegistry();
  const ref = `${outside.host}/bench/rootfs:1`;
  const signal = new AbortController().signal;
  const work = mkdtempSync(join(host.root, "..", "image-"));
  try {
    const image = await buildImage(ARCH, host.snapshotFile, "zstd", work, signal);
    await pushImages(new Registry(outside.host, registryOptions(testGoal(), signal)), parseRegistryRef(ref), [image]);
  } finally {
    outside.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const inside = Bun.spawn(host.inNetwork(["docker-registry", "serve", join(outside.dir, "config.yml")]), { stdout: "ignore", stderr: "ignore" });
  const [, port] = outside.host.split(":");
  for (let i = 0; i < 200; i++) {
    const probe = Bun.spawnSync(host.inNetwork(["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]), { stderr: "ignore" });
    if (probe.exitCode === 0) return { ref, stop: () => inside.kill() };
    if (inside.exitCode !== null) break;
    await Bun.sleep(50);
  }
  inside.kill();
  throw new Error(`docker-registry did not listen inside ${host.name}`);
}

export function printSlots({ rows, stopMs, drainMs }: SlotsBench, row: (name: string, value: string, target?: string) => void): void {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log("\nA/B upgrade in a nested host (kube-rootfs upgrade, its own figures)");
  row("stop: poweroff through the machine's systemd, default grace, no inhibitor", s(stopMs));
  row("drain of 20 pods, none blocked (test API server, 200 ms per pod's deletion), median of 3", s(drainMs));
  for (const r of rows) {
    row(`${r.base}: downtime`, s(r.downtimeMs), "target ≤ 2 s");
    row(`${r.base}: whole upgrade`, s(r.totalMs), r.base.startsWith("snapshot, all cached") ? "target ≤ 8 s" : "");
    const names = r.stages.map(([n]) => n);
    const [sw, down, up] = [names.indexOf(SWITCH), names.indexOf(DOWN), names.indexOf(HEALTHY)];
    const sum = (from: number, to: number) => r.stages.slice(from, to).reduce((t, [, ms]) => t + ms, 0);
    const line = (from: number, to: number) => r.stages.slice(from, to).map(([n, ms]) => `${n} ${Math.round(ms)}`).join(" · ") + " ms";
    // Each stage is named by the mark that ends it: restored is the restore, flushed the flush and rename.
    console.log(`    before the switch (${s(sum(0, sw + 1))}): ${line(0, sw + 1)}`);
    console.log(`    the switch while the node runs (${s(sum(sw + 1, down + 1))}): ${line(sw + 1, down + 1)}`);
    console.log(`    the node down (${s(sum(down + 1, up + 1))}): ${line(down + 1, up + 1)}`);
    console.log(`    after it (${s(sum(up + 1, names.length))}): ${line(up + 1, names.length)}`);
  }
}

if (import.meta.main) {
  const work = mkdtempSync(join(process.env.BENCH_DIR ?? "/var/tmp", "kube-rootfs-bench-slots-"));
  try {
    const rows = await benchSlots(await buildBinary(join(work, "bin")));
    printSlots(rows, row);
  } finally {
    rmSync(work, { recursive: true, force: true });
    removeTempDirs();
  }
}
