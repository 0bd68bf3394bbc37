import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { FIELDS, fieldByFlag } from "../../src/config/fields";
import { loadGoal } from "../../src/config/load";
import { crictlFor, describeSuite, resolveGoal } from "../../src/config/resolve";
import { detectHost, detectSuite, type HostFacts } from "../../src/host/facts";
import { mirrorFor, parseDeb822, parseOneLine } from "../../src/host/apt-sources";
import { durationSeconds } from "../../src/config/schema";
import { errorOf } from "../helpers/goal";

const dir = mkdtempSync(join(tmpdir(), "kube-rootfs-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("fields derived from the schema", () => {
  test("every issue-named flag exists and maps to an env name", () => {
    for (const flag of [
      "machine", "machine-dir", "nspawn-config-file", "service-override-file", "arch", "hostname",
      "kubernetes-version", "bootstrap-method", "bootstrap-tool", "bootstrap-suite", "bootstrap-mirror", "skip-phases", "log-format",
      "bootstrap-image", "registry-auth", "registry-ca", "insecure-registry",
    ]) {
      expect(fieldByFlag.get(flag)).toBeDefined();
    }
    expect(fieldByFlag.get("bootstrap-suite")!.env).toBe("KUBE_ROOTFS_BOOTSTRAP_SUITE");
    expect(fieldByFlag.get("kubernetes-version")!.key).toBe("versions.kubernetes");
    expect(fieldByFlag.get("downloads-kube-proxy-base-url")!.key).toBe("downloads.kubeProxy.baseURL");
    expect(fieldByFlag.get("bootstrap-method")!.values).toEqual(["bootstrap", "tarball", "image", "none"]);
    expect(fieldByFlag.get("bootstrap-tool")!.values).toEqual(["auto", "debootstrap", "mmdebstrap"]);
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
    expect([g.bootstrap.method, g.bootstrap.tool, g.bootstrap.suite]).toEqual(["bootstrap", "auto", undefined]);
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
    expect(errorOf(() => loadGoal({ flags: { arch: "sparc" } })).message).toBe("--arch: expected amd64|arm64|x86_64|aarch64, got sparc");
  });

  test("kubelet's shutdown grace: a Go duration, the critical pods' part no longer than the whole", () => {
    expect(loadGoal({ flags: { "kubelet-shutdown-grace-period": "2m" } }).kubelet).toMatchObject({ shutdownGracePeriod: "2m", shutdownGracePeriodCriticalPods: "10s" });
    expect(errorOf(() => loadGoal({ flags: { "kubelet-shutdown-grace-period": "30" } })).message).toBe("--kubelet-shutdown-grace-period: expected a duration like 30s, 2m or 1m30s, got \"30\"");
    expect(errorOf(() => loadGoal({ flags: { "kubelet-shutdown-grace-period": "5s" } })).message).toBe(
      "kubelet.shutdownGracePeriodCriticalPods: must not exceed kubelet.shutdownGracePeriod (5s), of which it is a part (--kubelet-shutdown-grace-period-critical-pods)",
    );
    expect(durationSeconds("1h2m3s")).toBe(3723);
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
    expect(errorOf(() => loadGoal({ env: { KUBE_ROOTFS_RETRIES: "0" } })).message).toBe("KUBE_ROOTFS_RETRIES: expected number to be >=1, got number 0");
  });

  test("a rule without a message of its own says what zod says in English", () => {
    expect(errorOf(() => loadGoal({ flags: { "bootstrap-components": "main,Universe" } })).message).toBe(
      '--bootstrap-components: Invalid string: must match pattern /^[a-z0-9-]+$/, got "Universe"',
    );
    expect(errorOf(() => loadGoal({ flags: { "runtime-registry-mirrors": "docker io=http://m" } })).message).toBe(
      '--runtime-registry-mirrors: Invalid key in record, got "docker io"',
    );
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
    resolvConf: "/etc/resolv.conf",
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
        "gpu-mode": "none", "host-resolv-conf": "/x/resolv.conf", "bootstrap-suite": "noble", "bootstrap-tool": "debootstrap",
      },
    });
    const r = resolveGoal(g, () => {
      throw new Error("detect called");
    });
    expect([r.arch, r.hostname, r.hostModules, r.hostDevices]).toEqual(["arm64", "given", true, []]);
  });

  test("the host's facts are read one by one, when first asked for, and once", () => {
    const host = detectHost();
    const unread = (k: keyof HostFacts) => typeof Object.getOwnPropertyDescriptor(host, k)?.get === "function";
    expect(Object.keys(host).every((k) => unread(k as keyof HostFacts))).toBe(true);
    const kernel = host.kernel;
    expect(kernel).toBe(release());
    expect(unread("kernel")).toBe(false);
    expect(unread("suite") && unread("mmdebstrap") && unread("devices")).toBe(true);
    // A goal that gives the host's own facts and bootstrap choices makes no other look.
    const g = loadGoal({ flags: { hostname: "h", "host-kernel": "k", "host-modules": true, "host-devices": "", "host-resolv-conf": "/r", "bootstrap-suite": "noble", "bootstrap-tool": "debootstrap", "gpu-mode": "none" } });
    const seen = detectHost();
    resolveGoal(g, () => seen);
    expect((Object.keys(seen) as Array<keyof HostFacts>).filter((k) => typeof Object.getOwnPropertyDescriptor(seen, k)?.get !== "function")).toEqual(["arch"]);
  });

  test("crictl follows the Kubernetes minor", () => {
    expect(crictlFor("1.33.1")).toBe("1.33.0");
    expect(resolveGoal(loadGoal({ flags: { "kubernetes-version": "1.30.4" } }), () => facts).versions.crictl).toBe("1.30.0");
  });
});

describe("the bootstrap follows the host", () => {
  const host = (over: Partial<HostFacts> = {}): HostFacts => ({
    arch: "amd64", hostname: "host1", kernel: "6.1.0", modules: false, devices: [],
    resolvConf: "/etc/resolv.conf", ...over,
  });
  const resolved = (flags: Record<string, string>, facts: HostFacts) => resolveGoal(loadGoal({ flags }), () => facts).bootstrap;

  test("no suite given: the host's own suite from the host's apt mirror, said so", () => {
    const b = resolved({}, host({ suite: { suite: "bookworm", mirror: "http://apt.test/debian" } }));
    expect([b.suite, b.suiteFrom, b.mirror]).toEqual(["bookworm", "host", "http://apt.test/debian"]);
    expect(describeSuite(b)).toBe("bookworm (the host's)");
  });

  test("another arch keeps the distribution's archive; a given mirror wins (slashes trimmed)", () => {
    const facts = host({ suite: { suite: "noble", mirror: "http://apt.test/ubuntu" } });
    expect(resolved({ arch: "arm64" }, facts).mirror).toBeUndefined();
    expect(resolved({ "bootstrap-mirror": "http://mine.test/ubuntu//" }, facts).mirror).toBe("http://mine.test/ubuntu");
  });

  test("a host that is not Debian or Ubuntu: noble; a given suite is used as given", () => {
    const b = resolved({}, host());
    expect([b.suite, b.suiteFrom, b.mirror]).toEqual(["noble", "default", undefined]);
    const given = resolved({ "bootstrap-suite": "trixie" }, host({ suite: { suite: "bookworm" } }));
    expect([given.suite, given.suiteFrom, describeSuite(given)]).toEqual(["trixie", "given", "trixie"]);
  });

  test("an unknown suite is a usage error", () => {
    expect(errorOf(() => resolved({ "bootstrap-suite": "hamm" }, host())).message).toStartWith("bootstrap.suite: unknown suite hamm");
  });

  test("tool auto: mmdebstrap when installed, else debootstrap; a given tool is kept", () => {
    expect(resolved({}, host({ mmdebstrap: true })).tool).toBe("mmdebstrap");
    expect(resolved({}, host({ mmdebstrap: false })).tool).toBe("debootstrap");
    expect(resolved({ "bootstrap-tool": "debootstrap" }, host({ mmdebstrap: true })).tool).toBe("debootstrap");
  });

  test("os-release: ID and VERSION_CODENAME of a known Debian or Ubuntu suite, with its apt mirror", () => {
    const sources = () => [{ uri: "http://apt.test/debian/", suites: ["bookworm", "bookworm-updates"] }];
    expect(detectSuite('ID=debian\nVERSION_CODENAME=bookworm\n', sources)).toEqual({ suite: "bookworm", mirror: "http://apt.test/debian" });
    expect(detectSuite('ID="ubuntu"\nVERSION_CODENAME="noble"\n', () => [])).toEqual({ suite: "noble" });
    expect(detectSuite("ID=linuxmint\nVERSION_CODENAME=wilma\n", sources)).toBeUndefined();
    expect(detectSuite("ID=debian\nVERSION_CODENAME=noble\n", sources)).toBeUndefined();
    expect(detectSuite("ID=fedora\n", sources)).toBeUndefined();
  });

  test("apt sources: one-line and deb822, disabled stanzas and options skipped", () => {
    expect(parseOneLine("# x\ndeb [arch=amd64 signed-by=/k.gpg] http://a.test/debian bookworm main\ndeb-src http://a.test/debian bookworm main\n")).toEqual([
      { uri: "http://a.test/debian", suites: ["bookworm"] },
    ]);
    const deb822 = "Types: deb\nURIs: http://b.test/debian\nSuites: bookworm bookworm-updates\n\nTypes: deb\nEnabled: no\nURIs: http://c.test/debian\nSuites: trixie\n";
    const parsed = parseDeb822(deb822);
    expect(parsed).toEqual([{ uri: "http://b.test/debian", suites: ["bookworm", "bookworm-updates"] }]);
    expect(mirrorFor("bookworm", [{ uri: "cdrom:[x]/", suites: ["bookworm"] }, ...parsed])).toBe("http://b.test/debian");
    expect(mirrorFor("trixie", parsed)).toBeUndefined();
  });
});
