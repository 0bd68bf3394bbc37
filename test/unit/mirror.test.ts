// The loopback mirror and the fault server are test instruments: these tests prove the mirror
// is upstream-shaped and each fault does on the wire what its name says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { list } from "tar";
import { kubeletStandInScript } from "../../scripts/kubelet-standin";
import { buildMirror, STAMP, type MirrorAsset, type MirrorInfo } from "../../scripts/mirror";
import {
  assetOf, endless, garbage, noRange, redirect, redirectLoop, resetMidBody, serveDir, shortBody, stall, status, testMirror, combinedTestMirror, trickle, wrongBytes,
  type FaultSpec, type Served,
} from "../helpers/mirror";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const HEX = /^[0-9a-f]{64}$/;

let info: MirrorInfo;
// Building it (gzipping ~80 MB of containerd) takes a few seconds: more than a hook's default timeout.
beforeAll(async () => {
  info = await testMirror();
}, 120_000);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
}

/** The hash a checksum file publishes for an asset, parsed the way each upstream writes it. */
function publishedHash(dir: string, a: MirrorAsset): string {
  const text = readFileSync(join(dir, a.checksumPath), "utf8");
  const name = basename(a.path);
  switch (a.artifact) {
    case "kubernetes":
      expect(text).toMatch(/^[0-9a-f]{64}$/); // dl.k8s.io: bare hex, no newline
      return text;
    case "crictl":
      expect(text).toMatch(/^[0-9a-f]{64}\n$/);
      return text.trim();
    case "containerd":
    case "cni": {
      const m = text.match(/^([0-9a-f]{64}) {2}(\S+)\n$/);
      expect(m?.[2]).toBe(name);
      return m![1]!;
    }
    case "runc": {
      const lines = text.trimEnd().split("\n");
      expect(lines.length).toBeGreaterThan(info.arch.length); // every arch plus another asset
      const line = lines.find((l) => l.endsWith(`  ${name}`));
      return line!.slice(0, 64);
    }
  }
}

interface TarEntry {
  path: string;
  type: string;
  mode: number;
  size: number;
  uid: number;
  gid: number;
  mtime: number;
  sha256?: string;
}

async function tarEntries(file: string): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  await list({
    file,
    onReadEntry: (e) => {
      const rec: TarEntry = { path: e.path, type: e.type, mode: e.mode! & 0o7777, size: e.size ?? 0, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime?.getTime() ?? 0 };
      entries.push(rec);
      const h = createHash("sha256");
      e.on("data", (c: Buffer) => h.update(c));
      e.on("end", () => e.type === "File" && (rec.sha256 = h.digest("hex")));
    },
  });
  return entries;
}

describe("buildMirror", () => {
  test("lays out exactly the upstream paths, plus only the stamp", () => {
    const v = info.versions;
    const expected = [STAMP, `runc/v${v.runc}/runc.sha256sum`, `runc/v${v.runc}/runc.armel`];
    for (const arch of ["amd64", "arm64"]) {
      for (const b of ["kubelet", "kubectl", "kube-proxy"]) expected.push(`kubernetes/v${v.kubernetes}/bin/linux/${arch}/${b}`, `kubernetes/v${v.kubernetes}/bin/linux/${arch}/${b}.sha256`);
      const crictl = `crictl/v${v.crictl}/crictl-v${v.crictl}-linux-${arch}.tar.gz`;
      const containerd = `containerd/v${v.containerd}/containerd-${v.containerd}-linux-${arch}.tar.gz`;
      const cni = `cni/v${v.cni}/cni-plugins-linux-${arch}-v${v.cni}.tgz`;
      expected.push(crictl, `${crictl}.sha256`, containerd, `${containerd}.sha256sum`, `runc/v${v.runc}/runc.${arch}`, cni, `${cni}.sha256`);
    }
    expect(walk(info.dir).map((f) => relative(info.dir, f)).sort()).toEqual(expected.sort());
    expect(v).toEqual({ kubernetes: "1.33.1", crictl: "1.33.0", containerd: "2.0.4", runc: "1.1.12", cni: "1.5.1" });
  });

  test("every checksum file is upstream-shaped and matches the asset's bytes", () => {
    expect(info.assets).toHaveLength(14);
    for (const a of info.assets) {
      const bytes = readFileSync(join(info.dir, a.path));
      expect(bytes.length).toBe(a.size);
      expect(sha256(bytes)).toBe(a.sha256);
      expect(publishedHash(info.dir, a)).toBe(a.sha256);
    }
  });

  test("runc.sha256sum lists every arch and one other asset, each hash right", () => {
    const text = readFileSync(join(info.dir, `runc/v${info.versions.runc}/runc.sha256sum`), "utf8");
    for (const line of text.trimEnd().split("\n")) {
      const [hex, name] = line.split("  ");
      expect(hex).toMatch(HEX);
      expect(sha256(readFileSync(join(info.dir, `runc/v${info.versions.runc}`, name!)))).toBe(hex!);
    }
    expect(text.trimEnd().split("\n").map((l) => l.slice(66))).toEqual(["runc.amd64", "runc.arm64", "runc.armel"]);
  });

  test("archives hold the listed entries, owner 0, mtime 0, mode 0755, upstream order", async () => {
    const plugins = readdirSync("/usr/lib/cni").sort();
    for (const arch of ["amd64", "arm64"] as const) {
      const want = {
        crictl: ["crictl"],
        containerd: ["bin/", "bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr"],
        cni: ["./", ...plugins.map((p) => `./${p}`)],
      };
      for (const [artifact, paths] of Object.entries(want)) {
        const a = assetOf(info, artifact as "crictl", arch);
        const got = await tarEntries(join(info.dir, a.path));
        expect(got.map((e) => e.path)).toEqual(paths);
        expect(a.entries!.map((e) => e.path)).toEqual(paths);
        for (const [i, e] of got.entries()) {
          expect([e.uid, e.gid, e.mtime, e.mode]).toEqual([0, 0, 0, 0o755]);
          expect(e.type).toBe(a.entries![i]!.type === "dir" ? "Directory" : "File");
          expect(e.size).toBe(a.entries![i]!.size);
          expect(e.sha256).toBe(a.entries![i]!.sha256);
        }
      }
    }
  });

  test("the host arch gets the host's real binaries", async () => {
    const host = process.arch === "arm64" ? "arm64" : "amd64";
    const entries = assetOf(info, "containerd", host).entries!;
    expect(entries.find((e) => e.path === "bin/ctr")!.sha256).toBe(sha256(readFileSync("/usr/bin/ctr")));
    expect(assetOf(info, "runc", host).sha256).toBe(sha256(readFileSync("/usr/sbin/runc")));
  });

  test("the two arches never share an asset hash", () => {
    const amd = info.assets.filter((a) => a.arch === "amd64").map((a) => a.sha256);
    const arm = info.assets.filter((a) => a.arch === "arm64").map((a) => a.sha256);
    expect(amd.filter((h) => arm.includes(h))).toEqual([]);
  });

  test.skipIf(process.arch !== "x64")("stand-ins print their version when run (amd64)", async () => {
    const kube = (b: string) => join(info.dir, assetOf(info, "kubernetes", "amd64", b).path);
    const run = (cmd: string[]) => Bun.spawnSync(cmd).stdout.toString().trim();
    expect(run([kube("kubelet"), "--version"])).toBe("Kubernetes v1.33.1");
    // kubelet is the stand-in held to kubelet's start-up checks (test/unit/kubelet-standin.test.ts)
    expect(readFileSync(kube("kubelet"), "utf8")).toBe(kubeletStandInScript("1.33.1", "amd64"));
    expect(run([kube("kube-proxy"), "--version"])).toBe("Kubernetes v1.33.1");
    expect(run([kube("kubectl"), "version", "--client"])).toBe("Client Version: v1.33.1");
    const tmp = mkdtempSync(join(tmpdir(), "mirror-test-"));
    try {
      Bun.spawnSync(["tar", "-xzf", join(info.dir, assetOf(info, "crictl", "amd64").path), "-C", tmp]);
      expect(run([join(tmp, "crictl"), "--version"])).toBe("crictl version v1.33.0");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test("a second build gives identical checksums; a rebuild of a complete mirror is skipped", async () => {
    const out = mkdtempSync(join(tmpdir(), "mirror-test-"));
    try {
      const again = await buildMirror({ out, arch: ["amd64", "arm64"] });
      expect(again.assets.map((a) => [a.path, a.sha256])).toEqual(info.assets.map((a) => [a.path, a.sha256]));
      const mtime = statSync(join(out, again.assets[0]!.path)).mtimeMs;
      const started = performance.now();
      expect((await buildMirror({ out })).assets).toEqual(again.assets);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(statSync(join(out, again.assets[0]!.path)).mtimeMs).toBe(mtime);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);

  test("versions and arches follow the options; crictl follows kubernetes major.minor", async () => {
    const other = await testMirror({ kubernetes: "1.32.4", arch: ["arm64"] });
    expect(other.versions.crictl).toBe("1.32.0");
    expect(new Set(other.assets.map((a) => a.arch))).toEqual(new Set(["arm64"]));
    expect(assetOf(other, "crictl", "arm64").path).toBe("crictl/v1.32.0/crictl-v1.32.0-linux-arm64.tar.gz");
    expect(await testMirror({ kubernetes: "1.32.4", arch: ["arm64"] })).toBe(other);
  }, 60_000);

  test("two mirrors in one tree: every asset of each, each checksum still right, no stamp", async () => {
    const { dir, mirrors } = await combinedTestMirror([{ kubernetes: "1.32.4" }, { kubernetes: "1.33.1" }]);
    expect(mirrors.map((m) => m.versions.crictl)).toEqual(["1.32.0", "1.33.0"]);
    for (const a of mirrors.flatMap((m) => m.assets)) {
      expect(sha256(readFileSync(join(dir, a.path)))).toBe(a.sha256);
      expect(publishedHash(dir, a)).toBe(a.sha256);
    }
    expect(readdirSync(dir)).not.toContain(STAMP);
  }, 60_000);
});

// ---------- the server ----------

const servers: Served[] = [];
afterAll(() => servers.forEach((s) => s.stop()));

async function serve(faults?: FaultSpec): Promise<Served> {
  const s = await serveDir(info.dir, faults ? { faults } : {});
  servers.push(s);
  return s;
}

const runc = () => assetOf(info, "runc", "amd64");
const fileBytes = (a: MirrorAsset) => new Uint8Array(readFileSync(join(info.dir, a.path)));

/** Read a body to its end or its error: the bytes that arrived and the error, if any. */
async function drain(res: Response): Promise<{ bytes: number; error?: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of res.body!) bytes += chunk.length;
    return { bytes };
  } catch (error) {
    return { bytes, error };
  }
}

// A fault on an unrelated path switches serveDir to its node:http transport; both must serve alike.
for (const [transport, faults] of [["Bun.serve", undefined], ["node:http", { "/nothing": status(500) }]] as const) {
  describe(`serveDir (${transport})`, () => {
    test("GET serves the file with its Content-Length; HEAD the length only", async () => {
      const s = await serve(faults);
      const get = await fetch(`${s.url}/${runc().path}`);
      expect(get.status).toBe(200);
      expect(get.headers.get("content-length")).toBe(String(runc().size));
      expect(sha256(new Uint8Array(await get.arrayBuffer()))).toBe(runc().sha256);
      const head = await fetch(`${s.url}/${runc().path}`, { method: "HEAD" });
      expect([head.status, head.headers.get("content-length"), (await head.arrayBuffer()).byteLength]).toEqual([200, String(runc().size), 0]);
      expect(s.requests.map((r) => [r.method, r.path])).toEqual([["GET", `/${runc().path}`], ["HEAD", `/${runc().path}`]]);
    });

    test("Range bytes=N- gives 206 with the right bytes; past the end 416", async () => {
      const s = await serve(faults);
      const { size } = runc();
      const res = await fetch(`${s.url}/${runc().path}`, { headers: { range: "bytes=1000-" } });
      expect(res.status).toBe(206);
      expect(res.headers.get("content-range")).toBe(`bytes 1000-${size - 1}/${size}`);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(fileBytes(runc()).subarray(1000));
      const bad = await fetch(`${s.url}/${runc().path}`, { headers: { range: `bytes=${size}-` } });
      expect([bad.status, bad.headers.get("content-range")]).toEqual([416, `bytes */${size}`]);
      expect(s.requests[0]!.range).toBe("bytes=1000-");
    });

    test("missing files, directories and paths escaping the dir are 404", async () => {
      const s = await serve(faults);
      for (const p of ["/nope", "/runc", "/%2e%2e/%2e%2e/etc/passwd", "/runc/..%2f..%2f..%2fetc/passwd"]) expect((await fetch(s.url + p)).status).toBe(404);
    });
  });
}

test("serveDir stops itself after its timeout", async () => {
  const s = await serveDir(info.dir, { timeoutMs: 200 });
  expect((await fetch(`${s.url}/${runc().checksumPath}`)).status).toBe(200);
  await Bun.sleep(400);
  await expect(fetch(`${s.url}/${runc().checksumPath}`)).rejects.toThrow();
});

// ---------- the faults ----------

describe("faults", () => {
  const url = (s: Served, a = runc()) => `${s.url}/${a.path}`;

  test("status: a list faults the first requests, then answers normally", async () => {
    const s = await serve({ [`/${runc().path}`]: [status(500), status(503)], "*.sha256": status(404) });
    expect((await fetch(url(s))).status).toBe(500);
    expect((await fetch(url(s))).status).toBe(503);
    const ok = await fetch(url(s));
    expect([ok.status, sha256(new Uint8Array(await ok.arrayBuffer()))]).toEqual([200, runc().sha256]);
    const kubelet = assetOf(info, "kubernetes", "amd64", "kubelet");
    for (let i = 0; i < 2; i++) expect((await fetch(`${s.url}/${kubelet.checksumPath}`)).status).toBe(404);
    expect(s.requests.map((r) => r.fault)).toEqual(["status(500)", "status(503)", undefined, "status(404)", "status(404)"]);
  });

  test("a function chooses by path and request count; null means normal", async () => {
    const s = await serve((_path, n) => (n === 2 ? status(502) : null));
    expect([(await fetch(url(s))).status, (await fetch(url(s))).status, (await fetch(url(s))).status]).toEqual([200, 502, 200]);
    const t = await serve({ "/runc/*": [null, status(500)] });
    expect([(await fetch(url(t))).status, (await fetch(url(t))).status, (await fetch(url(t))).status]).toEqual([200, 500, 200]);
  });

  test("resetMidBody: full Content-Length, some bytes, then the body read fails", async () => {
    const s = await serve({ "/runc/*": resetMidBody(100_000) });
    const res = await fetch(url(s));
    expect(res.headers.get("content-length")).toBe(String(runc().size));
    const got = await drain(res);
    expect(got.error).toBeDefined();
    expect(got.bytes).toBeLessThanOrEqual(100_000);
    // A real TCP reset, not a clean close: curl says so.
    const curl = Bun.spawn(["curl", "-sS", "-o", "/dev/null", url(s)], { stderr: "pipe" });
    expect(await curl.exited).toBe(56);
    expect(await new Response(curl.stderr).text()).toContain("reset by peer");
  });

  test("shortBody: Content-Length says the full size, the body ends early and the connection closes", async () => {
    const s = await serve({ "/runc/*": shortBody(50_000) });
    const res = await fetch(url(s));
    expect(res.headers.get("content-length")).toBe(String(runc().size));
    const got = await drain(res);
    expect(got.error).toBeDefined();
    expect(got.bytes).toBeLessThanOrEqual(50_000);
    // curl names it precisely: the transfer closed with bytes outstanding.
    const curl = Bun.spawn(["curl", "-sS", "-o", "/dev/null", url(s)], { stderr: "pipe" });
    expect(await curl.exited).toBe(18);
    expect(await new Response(curl.stderr).text()).toContain(`${runc().size - 50_000} bytes remaining`);
  });

  test("stall: some bytes, then nothing for as long as the server lives; stop ends it", async () => {
    const s = await serve({ "/runc/*": stall(1000) });
    const reader = (await fetch(url(s))).body!.getReader();
    let got = 0;
    while (got < 1000) got += (await reader.read()).value!.length;
    expect(got).toBe(1000);
    const next = reader.read().then(
      () => "data",
      () => "error",
    );
    expect(await Promise.race([next, Bun.sleep(1500).then(() => "silent")])).toBe("silent");
    s.stop();
    expect(await Promise.race([next, Bun.sleep(2000).then(() => "still hanging")])).not.toBe("still hanging");
  });

  test("endless: no Content-Length and a body past any cap", async () => {
    const s = await serve({ "/runc/*": endless() });
    const ac = new AbortController();
    const res = await fetch(url(s), { signal: ac.signal });
    expect(res.headers.get("content-length")).toBeNull();
    let bytes = 0;
    const cap = 3 * runc().size;
    try {
      for await (const chunk of res.body!) if ((bytes += chunk.length) > cap) ac.abort();
    } catch {
      // the abort
    }
    expect(bytes).toBeGreaterThan(cap);
  });

  test("wrongBytes: same length, exactly one byte differs", async () => {
    const s = await serve({ "/runc/*": wrongBytes() });
    const body = new Uint8Array(await (await fetch(url(s))).arrayBuffer());
    const real = fileBytes(runc());
    expect(body.length).toBe(real.length);
    expect(body.reduce((n, b, i) => n + (b === real[i] ? 0 : 1), 0)).toBe(1);
    expect(sha256(body)).not.toBe(runc().sha256);
  });

  test("garbage replaces a checksum file", async () => {
    const s = await serve({ "*.sha256sum": garbage("<html>not a checksum</html>") });
    const res = await fetch(`${s.url}/${runc().checksumPath}`);
    expect([res.status, await res.text()]).toEqual([200, "<html>not a checksum</html>"]);
  });

  test("redirect is followed to the real file; redirectLoop never ends", async () => {
    const s = await serve({ "/moved/runc": redirect(`/${runc().path}`), "/loop": redirectLoop() });
    const manual = await fetch(`${s.url}/moved/runc`, { redirect: "manual" });
    expect([manual.status, manual.headers.get("location")]).toEqual([302, `/${runc().path}`]);
    const followed = await fetch(`${s.url}/moved/runc`);
    expect(sha256(new Uint8Array(await followed.arrayBuffer()))).toBe(runc().sha256);
    await expect(fetch(`${s.url}/loop`)).rejects.toThrow();
    // Bun's fetch gives up only after ~127 hops: a client wanting a tighter bound must count itself.
    expect(s.requests.filter((r) => r.path === "/loop").length).toBeGreaterThan(20);
  });

  test("trickle: slow, in small pieces, but complete", async () => {
    const a = assetOf(info, "kubernetes", "amd64", "kubelet");
    const s = await serve({ "/kubernetes/*": trickle(64, 50) });
    const started = performance.now();
    const reader = (await fetch(url(s, a))).body!.getReader();
    const chunks: Uint8Array[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    const body = Buffer.concat(chunks);
    expect(sha256(body)).toBe(a.sha256);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(64);
    expect(performance.now() - started).toBeGreaterThan(50 * (Math.ceil(a.size / 64) - 1) - 20);
  });

  test("noRange: a Range request gets 200 and the whole file", async () => {
    const s = await serve({ "/runc/*": noRange() });
    const res = await fetch(url(s), { headers: { range: "bytes=1000-" } });
    expect([res.status, res.headers.get("content-range")]).toEqual([200, null]);
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(runc().sha256);
  });

  test("body faults honour Range, so a resume after a fault is served as asked", async () => {
    const s = await serve({ "/runc/*": [resetMidBody(10_000)] });
    const first = await drain(await fetch(url(s)));
    expect(first.error).toBeDefined();
    const rest = await fetch(url(s), { headers: { range: `bytes=${first.bytes}-` } });
    expect(rest.status).toBe(206);
    const body = Buffer.concat([fileBytes(runc()).subarray(0, first.bytes), new Uint8Array(await rest.arrayBuffer())]);
    expect(sha256(body)).toBe(runc().sha256);
  });
});
