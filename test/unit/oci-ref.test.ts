import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/errors";
import { defaultAuthFile, loadCredentials, parseChallenge } from "../../src/oci/auth";
import { formatRegistryRef, isLoopback, parseImageRef, parseRegistryRef } from "../../src/oci/ref";
import { tempDir } from "../helpers/tmp";

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("image references", () => {
  test("registry host, repository, tag and digest", () => {
    expect(parseImageRef("127.0.0.1:5000/kube/rootfs:bookworm")).toEqual({ kind: "registry", host: "127.0.0.1:5000", repo: "kube/rootfs", tag: "bookworm", digest: undefined });
    expect(parseImageRef(`registry.example/rootfs@${DIGEST}`)).toEqual({ kind: "registry", host: "registry.example", repo: "rootfs", digest: DIGEST });
    expect(parseRegistryRef("localhost/a/b")).toMatchObject({ host: "localhost", repo: "a/b", tag: "latest" });
    expect(parseRegistryRef("debian")).toMatchObject({ host: "docker.io", repo: "library/debian", tag: "latest" });
    expect(formatRegistryRef(parseRegistryRef(`r.example:443/x:1@${DIGEST}`))).toBe(`r.example:443/x:1@${DIGEST}`);
  });

  test("oci-layout and oci-archive split at the first colon", () => {
    expect(parseImageRef("oci-layout:/var/cache/oci")).toEqual({ kind: "layout", dir: "/var/cache/oci", tag: undefined });
    expect(parseImageRef("oci-layout:/c/oci:127.0.0.1:5000/r:t")).toEqual({ kind: "layout", dir: "/c/oci", tag: "127.0.0.1:5000/r:t" });
    expect(parseImageRef("oci-archive:/tmp/img.tar:v1")).toEqual({ kind: "archive", file: "/tmp/img.tar", tag: "v1" });
  });

  test("bad references are usage errors naming the reference", () => {
    for (const bad of ["Host.example/UPPER:tag", `r.example/x@sha256:abc`, "r.example/x:bad tag", "oci-layout:", "oci-archive:/f:"]) {
      expect(() => parseImageRef(bad)).toThrow(ConfigError);
      expect(() => parseImageRef(bad)).toThrow(bad);
    }
  });

  test("loopback hosts", () => {
    expect(["127.0.0.1:5000", "localhost", "[::1]:5000", "127.9.9.9"].every(isLoopback)).toBe(true);
    expect(["10.0.0.1:5000", "registry.example"].some(isLoopback)).toBe(false);
  });
});

describe("registry auth", () => {
  test("Bearer challenge parameters, quoted commas kept", () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual({
      scheme: "bearer",
      params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull,push" },
    });
    expect(parseChallenge('Basic realm="Registry"')?.scheme).toBe("basic");
  });

  test("credentials from a Docker config.json by host; Docker Hub under its v1 URL", () => {
    const dir = tempDir("oci-auth");
    const file = join(dir, "config.json");
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    writeFileSync(file, JSON.stringify({ auths: { "127.0.0.1:5000": { auth: b64("alice:s3:cret") }, "https://index.docker.io/v1/": { auth: b64("bob:pw") } } }));
    const creds = loadCredentials(file);
    expect(creds("127.0.0.1:5000")).toEqual({ username: "alice", password: "s3:cret" });
    expect(creds("docker.io")).toEqual({ username: "bob", password: "pw" });
    expect(creds("other.example")).toBeUndefined();
  });

  test("a named auth file that is missing is a usage error; the default may be absent", () => {
    expect(() => loadCredentials("/nonexistent/config.json")).toThrow(/registry.auth \/nonexistent\/config.json/);
    expect(defaultAuthFile({ DOCKER_CONFIG: "/etc/docker-cfg", HOME: "/root" })).toBe("/etc/docker-cfg/config.json");
    expect(defaultAuthFile({ HOME: "/home/u" })).toBe("/home/u/.docker/config.json");
  });
});
