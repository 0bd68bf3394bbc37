import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIELDS, fieldByFlag } from "../../src/config/fields";
import { loadGoal } from "../../src/config/load";
import { crictlFor, resolveGoal } from "../../src/config/resolve";
import type { HostFacts } from "../../src/config/host";
import { ConfigError } from "../../src/errors";

const dir = mkdtempSync(join(tmpdir(), "kube-rootfs-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
};

describe("fields derived from the schema", () => {
  test("every issue-named flag exists and maps to an env name", () => {
    for (const flag of [
      "machine", "machine-dir", "nspawn-config-file", "service-override-file", "arch", "hostname",
      "kubernetes-version", "bootstrap-method", "bootstrap-suite", "bootstrap-mirror", "skip-phases", "log-format",
      "bootstrap-image", "registry-auth", "registry-ca", "insecure-registry",
    ]) {
      expect(fieldByFlag.get(flag)).toBeDefined();
    }
    expect(fieldByFlag.get("bootstrap-suite")!.env).toBe("KUBE_ROOTFS_BOOTSTRAP_SUITE");
    expect(fieldByFlag.get("kubernetes-version")!.key).toBe("versions.kubernetes");
    expect(fieldByFlag.get("downloads-kube-proxy-base-url")!.key).toBe("downloads.kubeProxy.baseURL");
    expect(fieldByFlag.get("bootstrap-method")!.values).toEqual(["debootstrap", "mmdebstrap", "tarball", "image", "none"]);
    expect(fieldByFlag.get("insecure-registry")!.key).toBe("registry.insecure");
  });

  test("flag names are unique", () => {
    expect(new Set(FIELDS.map((f) => f.flag)).size).toBe(FIELDS.length);
  });
});

describe("precedence: defaults < file < env < flags", () => {
  const yaml = file("node.yaml", "machine: fromfile\nretries: 7\nbootstrap:\n  suite: bookworm\n");

  test("defaults", () => {
    const g = loadGoal({});
    expect(g.machine).toBe("kube1");
    expect(g.bootstrap.method).toBe("debootstrap");
    expect(g.versions.kubernetes).toBe("1.33.1");
  });

  test("file beats defaults, env beats file, flag beats env", () => {
    expect(loadGoal({ configFile: yaml }).machine).toBe("fromfile");
    const env = { KUBE_ROOTFS_MACHINE: "fromenv", KUBE_ROOTFS_RETRIES: "3" };
    const g = loadGoal({ configFile: yaml, env });
    expect([g.machine, g.retries, g.bootstrap.suite]).toEqual(["fromenv", 3, "bookworm"]);
    expect(loadGoal({ configFile: yaml, env, flags: { machine: "fromflag" } }).machine).toBe("fromflag");
  });

  test("JSON by extension or content, YAML otherwise", () => {
    expect(loadGoal({ configFile: file("a.json", '{"machine":"j1"}') }).machine).toBe("j1");
    expect(loadGoal({ configFile: file("a.conf", '{"machine":"j2"}') }).machine).toBe("j2");
    expect(loadGoal({ configFile: file("a.conf2", "machine: y1\n") }).machine).toBe("y1");
  });

  test("lists from flags are comma separated; versions lose a leading v", () => {
    const g = loadGoal({ flags: { "skip-phases": "kube, cri", "kubernetes-version": "v1.34.2" } });
    expect(g.skipPhases).toEqual(["kube", "cri"]);
    expect(g.versions.kubernetes).toBe("1.34.2");
  });
});

describe("errors name the field and the source", () => {
  test("file: wrong type, with its line", () => {
    const bad = file("bad.yaml", "machine: kube7\n# note\nmachineDir: 42\n");
    expect(errorOf(() => loadGoal({ configFile: bad })).message).toBe(`${bad}:3: machineDir: expected string, got number`);
  });

  test("file: unknown field is an error, nested too", () => {
    const typo = file("typo.yaml", "bootstrap:\n  suit: noble\n");
    expect(errorOf(() => loadGoal({ configFile: typo })).message).toBe(`${typo}:2: bootstrap.suit: unknown field`);
  });

  test("a nested typo is blamed on the file even when a flag sets a sibling", () => {
    const typo = file("typo2.yaml", "bootstrap:\n  sute: noble\n");
    expect(errorOf(() => loadGoal({ configFile: typo, flags: { "bootstrap-method": "none" } })).message).toBe(
      `${typo}:2: bootstrap.sute: unknown field`,
    );
  });

  test("file that does not parse", () => {
    const broken = file("broken.json", "{ nope");
    expect(errorOf(() => loadGoal({ configFile: broken })).message).toStartWith(`${broken}: not valid JSON`);
    expect(errorOf(() => loadGoal({ configFile: join(dir, "missing.yaml") })).message).toContain("cannot read config: ENOENT");
  });

  test("flag: bad enum", () => {
    expect(errorOf(() => loadGoal({ flags: { arch: "sparc" } })).message).toBe("--arch: expected amd64|arm64, got sparc");
  });

  test("the tarball method needs both the tarball and its sha256, named with their flags", () => {
    const err = errorOf(() => loadGoal({ flags: { "bootstrap-method": "tarball" } }));
    expect(err.lines).toEqual([
      "bootstrap.tarball: required with bootstrap.method tarball (a path or URL) (--bootstrap-tarball)",
      "bootstrap.sha256: required with bootstrap.method tarball (64 hex digits) (--bootstrap-sha256)",
    ]);
    expect(loadGoal({ flags: { "bootstrap-method": "tarball", "bootstrap-tarball": "/x.tar.zst", "bootstrap-sha256": "a".repeat(64) } }).bootstrap.tarball).toBe("/x.tar.zst");
  });

  test("the image method needs its image reference", () => {
    expect(errorOf(() => loadGoal({ flags: { "bootstrap-method": "image" } })).lines).toEqual([
      "bootstrap.image: required with bootstrap.method image (an image reference) (--bootstrap-image)",
    ]);
    const goal = loadGoal({ flags: { "bootstrap-method": "image", "bootstrap-image": "r.example/rootfs:1", "insecure-registry": "r.example,10.0.0.1:5000" } });
    expect(goal.registry.insecure).toEqual(["r.example", "10.0.0.1:5000"]);
    expect(errorOf(() => loadGoal({ flags: { "bootstrap-method": "image", "bootstrap-image": "r.example/x@sha256:12" } })).lines).toEqual([
      '--bootstrap-image: not an image reference: digest sha256:12 is not sha256: and 64 lowercase hex digits, got "r.example/x@sha256:12"',
    ]);
  });

  test("env: not a number, out of range", () => {
    expect(errorOf(() => loadGoal({ env: { KUBE_ROOTFS_RETRIES: "abc" } })).message).toBe('KUBE_ROOTFS_RETRIES: expected number, got "abc"');
    expect(errorOf(() => loadGoal({ env: { KUBE_ROOTFS_RETRIES: "0" } })).message).toStartWith("KUBE_ROOTFS_RETRIES: ");
  });

  test("bad version, sha256, path and URL", () => {
    expect(errorOf(() => loadGoal({ flags: { "kubernetes-version": "1.x" } })).message).toBe(
      '--kubernetes-version: expected a version like 1.33.1, got "1.x"',
    );
    expect(errorOf(() => loadGoal({ flags: { "downloads-kubelet-sha256": "abc" } })).message).toBe(
      '--downloads-kubelet-sha256: expected 64 hex digits, got "abc"',
    );
    expect(errorOf(() => loadGoal({ flags: { "machine-dir": "rel/dir" } })).message).toBe(
      '--machine-dir: expected an absolute path, got "rel/dir"',
    );
    expect(errorOf(() => loadGoal({ flags: { mirror: "ftp://x" } })).message).toStartWith("--mirror: expected a http/https/file URL");
  });

  test("every problem is reported, one line each", () => {
    const err = errorOf(() => loadGoal({ flags: { arch: "sparc", retries: "x" } }));
    expect(err.lines).toHaveLength(2);
  });
});

describe("resolved goal", () => {
  const facts: HostFacts = {
    arch: "amd64", hostname: "host1", kernel: "6.1.0", modules: false, devices: ["/dev/kvm"],
    gpuDevices: [], gpuLibraries: [], resolvConf: "/etc/resolv.conf",
  };

  test("derived paths follow the machine name", () => {
    const r = resolveGoal(loadGoal({ flags: { machine: "kube7" } }), () => facts);
    expect(r.machineDir).toBe("/var/lib/machines/kube7");
    expect(r.nspawnConfigFile).toBe("/etc/systemd/nspawn/kube7.nspawn");
    expect(r.serviceOverrideFile).toBe("/etc/systemd/system/systemd-nspawn@kube7.service.d/override.conf");
  });

  test("given facts win; detection is not called when all are given", () => {
    const g = loadGoal({
      flags: {
        arch: "arm64", hostname: "given", "host-kernel": "k", "host-modules": true, "host-devices": "",
        "gpu-devices": "", "gpu-libraries": "", "host-resolv-conf": "/x/resolv.conf",
      },
    });
    const r = resolveGoal(g, () => {
      throw new Error("detect called");
    });
    expect([r.arch, r.hostname, r.hostModules, r.hostDevices]).toEqual(["arm64", "given", true, []]);
  });

  test("crictl follows the Kubernetes minor", () => {
    expect(crictlFor("1.33.1")).toBe("1.33.0");
    expect(resolveGoal(loadGoal({ flags: { "kubernetes-version": "1.30.4" } }), () => facts).versions.crictl).toBe("1.30.0");
  });
});
