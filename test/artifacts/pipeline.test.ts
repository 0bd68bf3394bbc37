// The artifact pipeline against a loopback mirror in upstream layout: every artifact for both
// arches, the cache, the manifest, pins, and what each network fault does.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ArtifactPipeline } from "../../src/artifacts/pipeline";
import { installTask } from "../../src/artifacts/tasks";
import { MANIFEST, readManifest } from "../../src/artifacts/manifest";
import type { Resolved } from "../../src/config/resolve";
import type { GoalInput } from "../../src/config/schema";
import { parallel, TaskFailures } from "../../src/engine/task";
import { errorMessage } from "../../src/errors";
import { runLogged, testGoal } from "../helpers/goal";
import * as faults from "../helpers/fault-server";
import { assetOf, serveDir, testMirror, type FaultSpec, type Served } from "../helpers/mirror";

setDefaultTimeout(60_000);

let servers: Served[] = [];
afterEach(() => {
  servers.forEach((s) => s.stop());
  servers = [];
});

async function mirror(spec?: FaultSpec, versions: Parameters<typeof testMirror>[0] = {}) {
  const info = await testMirror(versions);
  const served = await serveDir(info.dir, spec ? { faults: spec } : {});
  servers.push(served);
  return { info, served };
}

const install = (goal: Resolved, groups: Array<"kube" | "cri" | "cni"> = ["kube", "cri", "cni"]) => {
  const pipeline = new ArtifactPipeline(goal);
  return runLogged(parallel("install", groups.map((g) => installTask(g, goal, pipeline))));
};

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof TaskFailures ? err.failures.map((f) => errorMessage(f.error)).join("\n") : errorMessage(err);
  }
  throw new Error("expected a failure");
}

/** Files anywhere under dir whose names mark them as temporary or partial. */
function leftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((p) => /\.tmp$|\.part-\d+$/.test(p));
}

const fast: GoalInput = { retries: 3, timeouts: { stall: 1, total: 60 } };

describe("installs every artifact, verified", () => {
  for (const arch of ["amd64", "arm64"] as const) {
    test(`all seven for ${arch}`, async () => {
      const { info, served } = await mirror();
      const goal = testGoal({ arch, mirror: served.url });
      const { outcome } = await install(goal);
      expect(outcome).toBe("completed");
      const m = readManifest(goal.machineDir);
      expect(Object.keys(m).sort()).toEqual(["cni", "containerd", "crictl", "kubeProxy", "kubectl", "kubelet", "runc"]);
      expect(m.kubelet!.sha256).toBe(assetOf(info, "kubernetes", arch, "kubelet").sha256);
      expect(m.runc!.sha256).toBe(assetOf(info, "runc", arch).sha256);
      expect(m.containerd!.files.map((f) => f.path).sort()).toEqual(["usr/local/bin/containerd", "usr/local/bin/containerd-shim-runc-v2", "usr/local/bin/ctr"]);
      for (const p of ["bridge", "host-local", "loopback"]) expect(existsSync(join(goal.machineDir, "opt/cni/bin", p))).toBe(true);
      // Each installed file is what the archive held, executable.
      const ctr = assetOf(info, "containerd", arch).entries!.find((e) => e.path === "bin/ctr")!;
      const installed = m.containerd!.files.find((f) => f.path.endsWith("/ctr"))!;
      expect(installed.sha256).toBe(ctr.sha256!);
      expect(statSync(join(goal.machineDir, installed.path)).mode & 0o777).toBe(0o755);
      expect(m.kubelet!.source).toBe(`${served.url}/kubernetes/v1.33.1/bin/linux/${arch}/kubelet`);
      expect(leftovers(goal.machineDir)).toEqual([]);
      expect(leftovers(goal.cacheDir)).toEqual([]);
    });
  }

  test("the cache holds upstream layout: a cache is a mirror", async () => {
    const { info, served } = await mirror();
    const goal = testGoal({ mirror: served.url });
    await install(goal);
    for (const a of info.assets.filter((x) => x.arch === "amd64")) {
      expect(readFileSync(join(goal.cacheDir, a.path))).toEqual(readFileSync(join(info.dir, a.path)));
      expect(existsSync(join(goal.cacheDir, a.checksumPath))).toBe(true);
    }
  });
});

describe("idempotence", () => {
  test("a second run skips everything without a request", async () => {
    const { served } = await mirror();
    const goal = testGoal({ mirror: served.url });
    await install(goal);
    const before = readFileSync(join(goal.machineDir, MANIFEST), "utf8");
    const requests = served.requests.length;
    const { outcome } = await install(goal);
    expect(outcome).toBe("skipped");
    expect(served.requests.length).toBe(requests);
    expect(readFileSync(join(goal.machineDir, MANIFEST), "utf8")).toBe(before);
  });

  test("a verified cache hit costs no network", async () => {
    const { served } = await mirror();
    const first = testGoal({ mirror: served.url });
    await install(first);
    const requests = served.requests.length;
    const second = testGoal({ mirror: served.url, cacheDir: first.cacheDir });
    expect((await install(second)).outcome).toBe("completed");
    expect(served.requests.length).toBe(requests);
    expect(readManifest(second.machineDir).kubelet!.sha256).toBe(readManifest(first.machineDir).kubelet!.sha256);
  });

  test("a touched file is installed again", async () => {
    const { served } = await mirror();
    const goal = testGoal({ mirror: served.url });
    await install(goal, ["cri"]);
    writeFileSync(join(goal.machineDir, "usr/local/bin/runc"), "tampered");
    await install(goal, ["cri"]);
    expect(readFileSync(join(goal.machineDir, "usr/local/bin/runc"), "utf8")).not.toBe("tampered");
  });

  test("a version change replaces exactly the old files", async () => {
    const { served } = await mirror();
    const { served: other } = await mirror(undefined, { containerd: "2.1.0" });
    const goal = testGoal({ mirror: served.url });
    await install(goal, ["cri"]);
    const old = readManifest(goal.machineDir).containerd!;
    const next = testGoal({ machineDir: goal.machineDir, cacheDir: goal.cacheDir, mirror: served.url, versions: { containerd: "2.1.0" }, downloads: { containerd: { baseURL: `${other.url}/containerd` } } });
    const { outcome } = await install(next, ["cri"]);
    expect(outcome).toBe("completed");
    const now = readManifest(goal.machineDir);
    expect(now.containerd!.version).toBe("2.1.0");
    expect(now.runc).toEqual(readManifest(goal.machineDir).runc!);
    expect(now.containerd!.files.map((f) => f.path)).toEqual(old.files.map((f) => f.path));
  });

  test("files the old version had and the new one lacks are removed", async () => {
    const { served } = await mirror();
    const goal = testGoal({ mirror: served.url });
    await install(goal, ["cni"]);
    // Pretend an earlier version installed one more plugin.
    const stray = join(goal.machineDir, "opt/cni/bin/flannel");
    writeFileSync(stray, "old plugin");
    const raw = JSON.parse(readFileSync(join(goal.machineDir, MANIFEST), "utf8"));
    raw.artifacts.cni.version = "1.4.0";
    raw.artifacts.cni.files.push({ path: "opt/cni/bin/flannel", sha256: "0".repeat(64), size: 10, mode: 0o644, mtime: 0 });
    writeFileSync(join(goal.machineDir, MANIFEST), JSON.stringify(raw));
    await install(goal, ["cni"]);
    expect(existsSync(stray)).toBe(false);
    expect(readManifest(goal.machineDir).cni!.version).toBe("1.5.1");
  });

  test("dry run lists every URL and writes nothing", async () => {
    const { served } = await mirror();
    const goal = testGoal({ mirror: served.url });
    const { events } = await runLogged(parallel("install", (["kube", "cri", "cni"] as const).map((g) => installTask(g, goal, new ArtifactPipeline(goal)))), { dryRun: true });
    const urls = events.filter((e) => e.msg === "would install").map((e) => e.fields!.url);
    expect(urls).toHaveLength(7);
    expect(urls).toContain(`${served.url}/runc/v1.1.12/runc.amd64`);
    expect(served.requests).toHaveLength(0);
    expect(existsSync(goal.machineDir)).toBe(false);
  });
});

describe("checksums", () => {
  test("a pinned sha256 beats the published checksum file", async () => {
    const { info, served } = await mirror({ "/runc/v1.1.12/runc.sha256sum": faults.garbage("not a checksum\n") });
    const pin = assetOf(info, "runc", "amd64").sha256;
    const goal = testGoal({ mirror: served.url, downloads: { runc: { sha256: pin } } });
    await install(goal, ["cri"]);
    expect(readManifest(goal.machineDir).runc!.sha256).toBe(pin);
    expect(served.requests.some((r) => r.path.endsWith("runc.sha256sum"))).toBe(false);
  });

  test("a wrong pin is a mismatch even when the published checksum agrees with the bytes", async () => {
    const { served } = await mirror();
    const goal = testGoal({ mirror: served.url, downloads: { runc: { sha256: "a".repeat(64) } } });
    const msg = await failure(install(goal, ["cri"]));
    expect(msg).toContain(`sha256 mismatch for ${served.url}/runc/v1.1.12/runc.amd64: expected ${"a".repeat(64)}, got `);
  });

  test("wrong bytes: an error naming URL, expected and actual hash, and nothing installed", async () => {
    const { info, served } = await mirror({ "/kubernetes/v1.33.1/bin/linux/amd64/kubectl": faults.wrongBytes() });
    const goal = testGoal({ mirror: served.url });
    const msg = await failure(install(goal, ["kube"]));
    const expected = assetOf(info, "kubernetes", "amd64", "kubectl").sha256;
    expect(msg).toMatch(new RegExp(`kubectl: sha256 mismatch for ${served.url}/kubernetes/v1.33.1/bin/linux/amd64/kubectl: expected ${expected}, got [0-9a-f]{64}`));
    expect(existsSync(join(goal.machineDir, "usr/local/bin/kubectl"))).toBe(false);
    expect(readManifest(goal.machineDir).kubectl).toBeUndefined();
    expect(existsSync(join(goal.cacheDir, "kubernetes/v1.33.1/bin/linux/amd64/kubectl"))).toBe(false);
    expect(leftovers(goal.machineDir)).toEqual([]);
    expect(leftovers(goal.cacheDir)).toEqual([]);
  });

  test("a garbage checksum file is an error naming it", async () => {
    const { served } = await mirror({ "/cni/v1.5.1/cni-plugins-linux-amd64-v1.5.1.tgz.sha256": faults.garbage("<html>rate limited</html>") });
    const goal = testGoal({ mirror: served.url });
    const msg = await failure(install(goal, ["cni"]));
    expect(msg).toContain(`checksum file ${served.url}/cni/v1.5.1/cni-plugins-linux-amd64-v1.5.1.tgz.sha256 has no sha256 for cni-plugins-linux-amd64-v1.5.1.tgz`);
  });

  test("runc's multi-line checksum file: the line for our asset is used", async () => {
    const { served } = await mirror();
    const goal = testGoal({ mirror: served.url, arch: "arm64" });
    await install(goal, ["cri"]);
    expect(readManifest(goal.machineDir).runc!.arch).toBe("arm64");
  });

  test("a damaged cached asset is downloaded again", async () => {
    const { served } = await mirror();
    const first = testGoal({ mirror: served.url });
    await install(first, ["cri"]);
    writeFileSync(join(first.cacheDir, "runc/v1.1.12/runc.amd64"), "bit rot");
    const second = testGoal({ mirror: served.url, cacheDir: first.cacheDir });
    const { events } = await install(second, ["cri"]);
    expect(events.some((e) => e.msg.startsWith("cached copy does not match"))).toBe(true);
    expect(readManifest(second.machineDir).runc!.sha256).toBe(readManifest(first.machineDir).runc!.sha256);
  });

  test("a cached archive that no longer inflates is downloaded again", async () => {
    const { served } = await mirror();
    const first = testGoal({ mirror: served.url });
    await install(first, ["cri"]);
    const cached = join(first.cacheDir, "containerd/v2.0.4/containerd-2.0.4-linux-amd64.tar.gz");
    const bytes = readFileSync(cached);
    bytes.fill(0x55, 10, 4096); // inside the deflate stream, past the gzip header
    writeFileSync(cached, bytes);
    const second = testGoal({ mirror: served.url, cacheDir: first.cacheDir });
    const { events } = await install(second, ["cri"]);
    expect(events.some((e) => e.msg.startsWith("cached copy does not match"))).toBe(true);
    expect(readManifest(second.machineDir).containerd!.files).toEqual(readManifest(first.machineDir).containerd!.files.map((f) => ({ ...f, mtime: expect.any(Number) })));
    expect(leftovers(second.machineDir)).toEqual([]);
  });
});

describe("network faults", () => {
  const RUNC = "/runc/v1.1.12/runc.amd64";

  test("500 then ok: retried", async () => {
    const { served } = await mirror({ [RUNC]: [faults.status(500)] });
    const goal = testGoal({ ...fast, mirror: served.url });
    await install(goal, ["cri"]);
    expect(served.requests.filter((r) => r.path === RUNC)).toHaveLength(2);
  });

  test("404: one request, no retry, error names the URL", async () => {
    const { served } = await mirror({ [RUNC]: faults.status(404) });
    const goal = testGoal({ ...fast, mirror: served.url });
    const msg = await failure(install(goal, ["cri"]));
    expect(msg).toContain(`runc: ${served.url}${RUNC}: HTTP 404 (not found)`);
    expect(served.requests.filter((r) => r.path === RUNC)).toHaveLength(1);
  });

  test("500 every time: gives up after the configured attempts", async () => {
    const { served } = await mirror({ [RUNC]: faults.status(503) });
    const goal = testGoal({ ...fast, retries: 2, mirror: served.url });
    const msg = await failure(install(goal, ["cri"]));
    expect(msg).toContain(`${served.url}${RUNC}: HTTP 503 (gave up after 2 attempts)`);
    expect(leftovers(goal.machineDir)).toEqual([]);
  });

  test("a body shorter than its Content-Length resumes with Range", async () => {
    const { served } = await mirror({ [RUNC]: [faults.shortBody(1_000_000)] });
    const goal = testGoal({ ...fast, mirror: served.url });
    await install(goal, ["cri"]);
    const reqs = served.requests.filter((r) => r.path === RUNC);
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  test("a reset mid-body of an archive resumes with Range and still unpacks", async () => {
    const path = "/containerd/v2.0.4/containerd-2.0.4-linux-amd64.tar.gz";
    const { served } = await mirror({ [path]: [faults.resetMidBody(3_000_000)] });
    const goal = testGoal({ ...fast, mirror: served.url });
    await install(goal, ["cri"]);
    const reqs = served.requests.filter((r) => r.path === path);
    expect(reqs.length).toBe(2);
    expect(reqs[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(readManifest(goal.machineDir).containerd!.files).toHaveLength(3);
  });

  test("a server that ignores Range: starts over and still verifies", async () => {
    const { served } = await mirror({ [RUNC]: [faults.shortBody(500_000), faults.noRange()] });
    const goal = testGoal({ ...fast, mirror: served.url });
    await install(goal, ["cri"]);
    expect(readManifest(goal.machineDir).runc).toBeDefined();
  });

  test("a stall is cut by the stall timeout and retried", async () => {
    const { served } = await mirror({ [RUNC]: [faults.stall(100_000)] });
    const goal = testGoal({ ...fast, mirror: served.url });
    const started = performance.now();
    await install(goal, ["cri"]);
    expect(served.requests.filter((r) => r.path === RUNC)).toHaveLength(2);
    expect(performance.now() - started).toBeGreaterThan(900);
  });

  test("the total timeout ends a download that keeps trickling", async () => {
    const { served } = await mirror({ [RUNC]: faults.trickle(1024, 50) });
    const goal = testGoal({ ...fast, timeouts: { stall: 5, total: 1 }, mirror: served.url });
    const msg = await failure(install(goal, ["cri"]));
    expect(msg).toContain(`${served.url}${RUNC}: no complete download within 1s (total timeout)`);
  });

  test("a slow trickle that completes is fine", async () => {
    const { served } = await mirror({ "/kubernetes/v1.33.1/bin/linux/amd64/kubectl": faults.trickle(16, 20) });
    const goal = testGoal({ ...fast, mirror: served.url });
    await install(goal, ["kube"]);
    expect(readManifest(goal.machineDir).kubectl).toBeDefined();
  });

  test("a custom url looks for its checksum file beside it", async () => {
    const { served } = await mirror({ "/a/runc": faults.redirect("/b/runc"), "/b/runc": faults.redirect(RUNC) });
    const goal = testGoal({ ...fast, mirror: served.url, downloads: { runc: { url: `${served.url}/a/runc`, sha256: undefined } } });
    const msg = await failure(install(goal, ["cri"]));
    expect(msg).toContain(`${served.url}/a/runc.sha256sum`);
  });

  test("a redirect chain to the asset, with a pin, installs", async () => {
    const { info, served } = await mirror({ "/a/runc": faults.redirect("/b/runc"), "/b/runc": faults.redirect(RUNC) });
    const goal = testGoal({ ...fast, mirror: served.url, downloads: { runc: { url: `${served.url}/a/runc`, sha256: assetOf(info, "runc", "amd64").sha256 } } });
    await install(goal, ["cri"]);
    expect(readManifest(goal.machineDir).runc!.source).toBe(`${served.url}/a/runc`);
  });

  test("a redirect loop is an error, not a hang", async () => {
    const { served } = await mirror({ [RUNC]: faults.redirectLoop() });
    const goal = testGoal({ ...fast, mirror: served.url });
    expect(await failure(install(goal, ["cri"]))).toContain(`${served.url}${RUNC}: more than 10 redirects`);
  });

  test("an endless body is cut off at the size cap", async () => {
    const { served } = await mirror({ [RUNC]: faults.endless() });
    const goal = testGoal({ ...fast, maxDownloadBytes: 20_000_000, mirror: served.url });
    expect(await failure(install(goal, ["cri"]))).toContain(`${served.url}${RUNC}: response larger than the 20000000-byte cap (maxDownloadBytes)`);
    expect(leftovers(goal.cacheDir)).toEqual([]);
  });

  test("a Content-Length over the cap is refused before reading", async () => {
    const { served } = await mirror();
    const goal = testGoal({ ...fast, maxDownloadBytes: 1_000_000, mirror: served.url });
    expect(await failure(install(goal, ["cri"]))).toMatch(/runc\.amd64: \d+ bytes is larger than the 1000000-byte cap/);
  });

  test("a part left by a dead run is resumed with Range", async () => {
    const { info, served } = await mirror();
    const goal = testGoal({ ...fast, mirror: served.url });
    const asset = assetOf(info, "runc", "amd64");
    const cached = join(goal.cacheDir, asset.path);
    Bun.spawnSync(["mkdir", "-p", join(cached, "..")]);
    const half = readFileSync(join(info.dir, asset.path)).subarray(0, 2_000_000);
    writeFileSync(`${cached}.part-999999999`, half);
    await install(goal, ["cri"]);
    expect(served.requests.find((r) => r.path === RUNC)!.range).toBe("bytes=2000000-");
    expect(readManifest(goal.machineDir).runc!.sha256).toBe(asset.sha256);
    expect(leftovers(goal.cacheDir)).toEqual([]);
  });

  test("a file:// mirror works without a server", async () => {
    const { info } = await mirror();
    const goal = testGoal({ mirror: `file://${info.dir}` });
    await install(goal);
    expect(Object.keys(readManifest(goal.machineDir))).toHaveLength(7);
  });
});
