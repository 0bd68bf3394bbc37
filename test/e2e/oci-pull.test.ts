// Rootfs images pulled from real registries: a rootfs made by mmdebstrap from the host's apt
// archive becomes an image (its snapshot as the base layer, plus a layer that deletes files and
// makes a directory opaque), built with umoci and copied into Debian's docker-registry with
// skopeo. kube-rootfs pulls it and the machine dir equals `umoci unpack`'s rootfs file by file.
// Faults: a corrupted blob, a tampered manifest, wrong credentials, an untrusted certificate.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { hostDebianMirror } from "../helpers/apt";
import { compiledBinary, events, run } from "../helpers/binary";
import { startRegistryProxy, type RegistryProxy } from "../helpers/registry-proxy";
import { startRegistry, type TestRegistry } from "../helpers/registry";
import { describeTree, treeDiff } from "../helpers/tree";
import { removeDir, tempDir } from "../helpers/tmp";
import { faultTest } from "../faults/fault-test";

let bin: string;
let dir: string;
let plain: TestRegistry;
let secure: TestRegistry;
let bearer: RegistryProxy;
let reference: Map<string, string>;
let authFile: string;
let wrongAuthFile: string;
let layer2Digest: string;

const sh = (argv: string[]) => {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
};

const paths = (name: string) => ({ root: join(dir, "machines", name), nspawn: join(dir, "nspawn", `${name}.nspawn`), override: join(dir, "system", `${name}.conf`) });

function provisionArgs(name: string, extra: string[], cache = join(dir, "cache")): string[] {
  const p = paths(name);
  return [
    bin, "provision", "--machine", name, "--machine-dir", p.root, "--nspawn-config-file", p.nspawn,
    "--service-override-file", p.override, "--cache-dir", cache, "--log-format", "json", "--skip-phases", "install",
    ...extra,
  ];
}

/** The second layer: a whiteout, an opaque directory, a file with capabilities and user xattrs, a hardlink. */
function secondLayer(into: string): string {
  const tree = join(into, "layer2");
  const file = (rel: string, content = "") => {
    mkdirSync(dirname(join(tree, rel)), { recursive: true });
    writeFileSync(join(tree, rel), content);
  };
  file("etc/.wh.motd");
  file("usr/share/doc/.wh..wh..opq");
  file("usr/share/doc/kept-by-layer2/README", "only this is left in usr/share/doc\n");
  file("usr/local/bin/capped", "#!/bin/sh\n");
  sh(["chmod", "4755", join(tree, "usr/local/bin/capped")]);
  sh(["setcap", "cap_net_raw+ep", join(tree, "usr/local/bin/capped")]);
  sh(["setfattr", "-n", "user.kube-rootfs", "-v", "test value", join(tree, "usr/local/bin/capped")]);
  linkSync(join(tree, "usr/local/bin/capped"), join(tree, "usr/local/bin/capped-again"));
  const tar = join(into, "layer2.tar");
  sh(["tar", "--create", `--file=${tar}`, `--directory=${tree}`, "--numeric-owner", "--xattrs", "--xattrs-include=*", "etc", "usr"]);
  return tar;
}

beforeAll(async () => {
  bin = await compiledBinary();
  const apt = hostDebianMirror();
  // Four rootfs trees and more: removed here, with time for it, not by the suite's final sweep.
  dir = mkdtempSync(join(tmpdir(), "kube-rootfs-oci-pull-"));
  // The base rootfs: mmdebstrap through kube-rootfs itself, whose snapshot (GNU tar, xattrs) is the base layer.
  const made = await run(provisionArgs("pullsrc", [
    "--bootstrap-method", "mmdebstrap", "--bootstrap-suite", apt.suite, "--bootstrap-mirror", apt.mirror,
    "--bootstrap-include", "systemd,systemd-sysv,iputils-ping",
  ]));
  if (made.code !== 0) throw new Error(`source bootstrap failed: ${made.stderr}`);
  const snapshot = readdirSync(join(dir, "cache", "rootfs")).find((n) => n.endsWith(".tar.zst"))!;
  const layer1 = join(dir, "layer1.tar");
  sh(["zstd", "-q", "-d", "-f", join(dir, "cache", "rootfs", snapshot), "-o", layer1]);

  const layout = join(dir, "layout");
  sh(["umoci", "init", "--layout", layout]);
  sh(["umoci", "new", "--image", `${layout}:base`]);
  sh(["umoci", "raw", "add-layer", "--image", `${layout}:base`, layer1]);
  sh(["umoci", "raw", "add-layer", "--image", `${layout}:base`, secondLayer(dir)]);
  const manifest = JSON.parse(sh(["skopeo", "inspect", "--raw", `oci:${layout}:base`])) as { layers: Array<{ digest: string }> };
  layer2Digest = manifest.layers[1]!.digest;
  sh(["umoci", "unpack", "--image", `${layout}:base`, join(dir, "umoci")]);
  reference = describeTree(join(dir, "umoci", "rootfs"));
  // The comparison covers what matters: capabilities, user xattrs, device nodes, hardlinks, setuid.
  const lines = [...reference.values()];
  for (const needle of ["security.capability=", "user.kube-rootfs=", "link-group=", " 4755 "]) expect(lines.some((l) => l.includes(needle))).toBe(true);
  expect(lines.some((l) => l.startsWith("20000 "))).toBe(true);

  plain = await startRegistry();
  secure = await startRegistry({ tls: true, users: { puller: "right" } });
  bearer = startRegistryProxy(plain.url, { bearer: true, redirectBlobs: true });
  sh(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", `oci:${layout}:base`, `docker://${plain.host}/pull/rootfs:base`]);
  sh(["skopeo", "copy", "--quiet", "--dest-cert-dir", secure.certDir!, "--dest-creds", "puller:right", "--dest-compress-format", "zstd", "--dest-compress", `oci:${layout}:base`, `docker://${secure.host}/pull/rootfs:zstd`]);
  const auth = (password: string) => {
    const file = join(dir, `auth-${password}.json`);
    writeFileSync(file, JSON.stringify({ auths: { [secure.host]: { auth: Buffer.from(`puller:${password}`).toString("base64") } } }));
    return file;
  };
  authFile = auth("right");
  wrongAuthFile = auth("wrong");
}, 600_000);

afterAll(() => {
  bearer?.stop();
  plain?.stop();
  secure?.stop();
  removeDir(dir);
}, 120_000);

function expectSameTree(root: string) {
  // Where kube-rootfs records the image digest, absent from the image itself.
  const ours = describeTree(root, ["var/lib/kube-rootfs"]);
  expect(treeDiff(ours, reference, ["kube-rootfs", "umoci"]).slice(0, 20)).toEqual([]);
}

describe("pull a rootfs image", () => {
  test("by tag through a Bearer token service, blobs redirected to storage: the tree equals umoci's; a second run does nothing", async () => {
    const args = provisionArgs("pull1", ["--bootstrap-method", "image", "--bootstrap-image", `${bearer.host}/pull/rootfs:base`]);
    const r = await run(args);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const root = paths("pull1").root;
    expect(existsSync(join(root, "etc/motd"))).toBe(false);
    expect(readdirSync(join(root, "usr/share/doc"))).toEqual(["kept-by-layer2"]);
    expect(sh(["getcap", join(root, "usr/local/bin/capped")])).toContain("cap_net_raw=ep");
    expectSameTree(root);
    const record = JSON.parse(readFileSync(join(root, "var/lib/kube-rootfs/image.json"), "utf8"));
    const digest = JSON.parse(sh(["skopeo", "inspect", "--tls-verify=false", `docker://${plain.host}/pull/rootfs:base`])).Digest;
    expect(record).toMatchObject({ image: `${bearer.host}/pull/rootfs:base`, digest });
    expect(bearer.seen.some((s) => s.includes("/token"))).toBe(true);

    const requests = bearer.seen.length;
    const again = await run(args);
    expect(again.code).toBe(0);
    expect(events(again.stdout).find((e) => e.task === "ensure-workspace" && e.msg === "skipped")).toBeDefined();
    expect(bearer.seen.length).toBe(requests);

    // Another image named for a filled machine dir: left as it is, with a warning naming both.
    const other = await run(args.map((a) => (a === `${bearer.host}/pull/rootfs:base` ? `${plain.host}/pull/rootfs:base` : a)));
    expect(other.code).toBe(0);
    expect(events(other.stdout).find((e) => e.msg === "machine dir holds another image; left as it is")?.fields).toMatchObject({ holds: `${bearer.host}/pull/rootfs:base`, digest });
  }, 300_000);

  test("zstd layers by digest over TLS with --registry-ca and --registry-auth; then --offline from the cache", async () => {
    const digest = JSON.parse(sh(["skopeo", "inspect", "--cert-dir", secure.certDir!, "--creds", "puller:right", `docker://${secure.host}/pull/rootfs:zstd`])).Digest;
    const image = `${secure.host}/pull/rootfs@${digest}`;
    const r = await run(provisionArgs("pull2", ["--bootstrap-method", "image", "--bootstrap-image", image, "--registry-ca", secure.caFile!, "--registry-auth", authFile]));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expectSameTree(paths("pull2").root);

    // No network at all: a new network namespace has not even loopback up.
    const offline = await run(["unshare", "--net", ...provisionArgs("pull3", ["--bootstrap-method", "image", "--bootstrap-image", image, "--offline"])]);
    expect({ code: offline.code, stderr: offline.stderr }).toEqual({ code: 0, stderr: "" });
    expectSameTree(paths("pull3").root);
  }, 300_000);

  test("the cache is an OCI image layout skopeo reads, and an oci-layout: source", async () => {
    const name = `${bearer.host}/pull/rootfs:base`;
    const inspected = JSON.parse(sh(["skopeo", "inspect", `oci:${join(dir, "cache", "oci")}:${name}`]));
    expect(inspected.Layers).toHaveLength(2);
    const r = await run(provisionArgs("pull4", ["--bootstrap-method", "image", "--bootstrap-image", `oci-layout:${join(dir, "layout")}:base`], tempDir("pull-cache")));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expectSameTree(paths("pull4").root);
  }, 300_000);
});

describe("a bad registry leaves nothing in the machine dir", () => {
  /** Runs with a fresh cache, which it returns. */
  async function fails(name: string, extra: string[], message: RegExp): Promise<string> {
    const cache = tempDir("pull-cache");
    const r = await run(provisionArgs(name, ["--bootstrap-method", "image", ...extra], cache));
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(existsSync(paths(name).root)).toBe(false);
    expect(readdirSync(join(dir, "machines")).filter((n) => n.startsWith(`${name}.`))).toEqual([]);
    return cache;
  }

  faultTest("image-symlink-out", async () => {
    const outside = tempDir("pull-outside");
    const layout = join(dir, "evil-layout");
    const layer = (name: string, files: Record<string, string>) => {
      const tree = join(dir, name);
      for (const [rel, target] of Object.entries(files)) {
        mkdirSync(dirname(join(tree, rel)), { recursive: true });
        if (target.startsWith("-> ")) symlinkSync(target.slice(3), join(tree, rel));
        else writeFileSync(join(tree, rel), target);
      }
      sh(["tar", "--create", `--file=${tree}.tar`, `--directory=${tree}`, ...Object.keys(files)]);
      return `${tree}.tar`;
    };
    sh(["umoci", "init", "--layout", layout]);
    sh(["umoci", "new", "--image", `${layout}:evil`]);
    sh(["umoci", "raw", "add-layer", "--image", `${layout}:evil`, layer("evil1", { escape: `-> ../../../../../../../..${outside}` })]);
    sh(["umoci", "raw", "add-layer", "--image", `${layout}:evil`, layer("evil2", { "escape/planted": "x" })]);
    await fails("pullbad5", ["--bootstrap-image", `oci-layout:${layout}:evil`], /image oci-layout:.*: layer sha256:[0-9a-f]{64}, entry escape\/planted: .*leads out of the rootfs/);
    expect(readdirSync(outside)).toEqual([]);
  }, 120_000);

  faultTest("registry-bad-ref", async () => {
    const r = await run(provisionArgs("pullbad0", ["--bootstrap-method", "image", "--bootstrap-image", `${plain.host}/Pull/Rootfs:base`]));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`kube-rootfs: --bootstrap-image: not an image reference: repository must be lowercase letters, digits and . _ - separated by /, got "${plain.host}/Pull/Rootfs:base"`);
    expect(existsSync(paths("pullbad0").root)).toBe(false);
  });

  faultTest("registry-corrupt-blob", async () => {
    const proxy = startRegistryProxy(plain.url, { corruptBlob: layer2Digest });
    try {
      const cache = await fails("pullbad1", ["--bootstrap-image", `${proxy.host}/pull/rootfs:base`], new RegExp(`blob ${layer2Digest} from registry ${proxy.host}: digest mismatch`));
      expect(readdirSync(join(cache, "oci", "blobs", "sha256")).filter((n) => n.startsWith(layer2Digest.slice("sha256:".length)))).toEqual([]);
    } finally {
      proxy.stop();
    }
  }, 120_000);

  faultTest("registry-wrong-manifest", async () => {
    const proxy = startRegistryProxy(plain.url, { wrongManifest: true });
    try {
      await fails("pullbad2", ["--bootstrap-image", `${proxy.host}/pull/rootfs:base`], new RegExp(`registry ${proxy.host}: manifest pull/rootfs:base has digest sha256:[0-9a-f]{64}, expected sha256:`));
    } finally {
      proxy.stop();
    }
  }, 120_000);

  faultTest("registry-wrong-credentials", async () => {
    await fails("pullbad3", ["--bootstrap-image", `${secure.host}/pull/rootfs:zstd`, "--registry-ca", secure.caFile!, "--registry-auth", wrongAuthFile], new RegExp(`registry ${secure.host}: credentials for puller rejected`));
  }, 120_000);

  faultTest("registry-untrusted-cert", async () => {
    await fails("pullbad4", ["--bootstrap-image", `${secure.host}/pull/rootfs:zstd`, "--registry-auth", authFile], new RegExp(`registry ${secure.host}: TLS certificate not trusted .*--registry-ca FILE`));
  }, 120_000);
});
