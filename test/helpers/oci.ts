// A one-layer OCI image archive built from the host's static busybox (Debian's busybox-static),
// for `ctr images import`, and a two-arch OCI layout of it: nothing is pulled from a registry.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./tmp";

const BUSYBOX = "/bin/busybox";
const APPLETS = ["sh", "ip", "ping", "cat", "sleep", "ls"];

async function tar(args: string[]) {
  const p = Bun.spawn(["tar", "--numeric-owner", "--owner=0", "--group=0", "--sort=name", "--mtime=@0", ...args], { stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`tar ${args.join(" ")}: ${err}`);
}

const sha256 = (bytes: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

/** Writes `<dir>/busybox-oci.tar` named `ref` (e.g. localhost/node-test/busybox:1); returns its path. */
export async function busyboxImage(ref: string, arch: "amd64" | "arm64"): Promise<string> {
  const dir = tempDir("oci");
  const rootfs = join(dir, "rootfs");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
  for (const applet of APPLETS) symlinkSync("busybox", join(rootfs, "bin", applet));
  const layout = join(dir, "layout");
  const blobs = join(layout, "blobs/sha256");
  mkdirSync(blobs, { recursive: true });

  const layerFile = join(dir, "layer.tar");
  await tar(["-C", rootfs, "-cf", layerFile, "."]);
  const layer = readFileSync(layerFile);
  const blob = (content: Uint8Array | string) => {
    const digest = sha256(content);
    writeFileSync(join(blobs, digest), content);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(content) };
  };
  const layerBlob = blob(layer);
  const config = blob(
    JSON.stringify({
      architecture: arch,
      os: "linux",
      config: { Env: ["PATH=/bin"], Cmd: ["/bin/sh"] },
      rootfs: { type: "layers", diff_ids: [layerBlob.digest] },
    }),
  );
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layerBlob }],
    }),
  );
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          platform: { architecture: arch, os: "linux" },
          annotations: { "io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref.slice(ref.lastIndexOf(":") + 1) },
        },
      ],
    }),
  );
  const archive = join(dir, "busybox-oci.tar");
  await tar(["-C", layout, "-cf", archive, "."]);
  return archive;
}

/** An OCI layout in `dir` holding busybox for amd64 and arm64 under an index tagged `multi`. */
export async function twoArchBusyboxLayout(dir: string): Promise<string> {
  const layout = join(dir, "image-layout");
  mkdirSync(join(layout, "blobs/sha256"), { recursive: true });
  const manifests = [];
  for (const arch of ["amd64", "arm64"] as const) {
    const unpacked = join(dir, `image-${arch}`);
    mkdirSync(unpacked);
    await tar(["-x", "-f", await busyboxImage(`localhost/busybox:${arch}`, arch), "-C", unpacked]);
    const index = JSON.parse(readFileSync(join(unpacked, "index.json"), "utf8")) as { manifests: Array<Record<string, unknown>> };
    const { annotations: _, ...desc } = index.manifests[0]!;
    for (const digest of [desc.digest as string, ...blobsOf(unpacked, desc.digest as string)]) {
      copyFileSync(join(unpacked, "blobs/sha256", digest.slice(7)), join(layout, "blobs/sha256", digest.slice(7)));
    }
    manifests.push(desc);
  }
  const index = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests });
  writeFileSync(join(layout, "blobs/sha256", sha256(index)), index);
  writeFileSync(join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", digest: `sha256:${sha256(index)}`, size: index.length, annotations: { "org.opencontainers.image.ref.name": "multi" } }] }),
  );
  return layout;
}

/** The config and layer digests a manifest in an unpacked layout names. */
function blobsOf(layout: string, manifestDigest: string): string[] {
  const m = JSON.parse(readFileSync(join(layout, "blobs/sha256", manifestDigest.slice(7)), "utf8")) as { config: { digest: string }; layers: Array<{ digest: string }> };
  return [m.config.digest, ...m.layers.map((l) => l.digest)];
}
