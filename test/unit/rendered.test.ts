// What render lists is what provision writes: a provision into a temp dir (no artifacts) leaves
// exactly the listed files and links, byte for byte and mode for mode, besides its records and
// image archives; verify is clean against the same list; the images unit waits for the pull.
// The command: every file under a header (golden), --file picks, an unknown name, two goals diffed.
import { describe, expect, test } from "bun:test";
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GoalInput } from "../../src/config/schema";
import type { Resolved } from "../../src/config/resolve";
import { provisionPlan } from "../../src/provision";
import { SYSCTL_FILE } from "../../src/hostprep/settings";
import { renderedFiles, type Rendered } from "../../src/rendered";
import { configDrift } from "../../src/verify";
import { runSource } from "../helpers/binary";
import { fakeGpuHost } from "../helpers/fake-gpu-host";
import { defaultHostRoot, fakeHostRoot } from "../helpers/fake-host";
import { golden } from "../helpers/golden";
import { runLogged, tempDir, testGoal } from "../helpers/goal";
import { cacheHolding } from "../helpers/image-cache";
import { CA, kubeconfig } from "../helpers/kubeconfig";

const SANDBOX = "127.0.0.1:5000/pause:3.10";
/** What provision keeps besides the files it renders: its records and the image archives. */
const NOT_RENDERED = /^var\/lib\/kube-rootfs\/(goal\.json|images\.json|images\/[^/]+\.tar)$/;

/** A node with every kind of file: registry mirrors with a CA, join material, a pre-loaded image. */
async function nodeGoal(extra: GoalInput = {}): Promise<Resolved> {
  const host = tempDir("rendered-host");
  const file = (name: string, content: string) => {
    writeFileSync(join(host, name), content);
    return join(host, name);
  };
  return testGoal({
    // a fake host of its own: provision writes the host's sysctl file there
    host: { root: fakeHostRoot() },
    nspawnConfigFile: join(host, "kube9.nspawn"),
    serviceOverrideFile: join(host, "system/override.conf"),
    hostResolvConf: file("resolv.conf", "nameserver 192.0.2.53\n"),
    cacheDir: await cacheHolding([SANDBOX]),
    offline: true,
    skipPhases: ["kube", "cri", "cni"],
    runtime: { sandboxImage: SANDBOX, registryMirrors: { "docker.io": [{ url: "https://mirror.example", ca: file("ca.pem", "-----BEGIN CERTIFICATE-----\nmirror\n-----END CERTIFICATE-----\n") }] } },
    kubelet: { bootstrapKubeconfig: file("bootstrap.conf", kubeconfig()) },
    ...extra,
  });
}

const describeRendered = (list: Rendered[]) =>
  new Map(list.map((r) => [r.path, r.kind === "link" ? `-> ${r.target}` : r.kind === "file" ? `${r.mode.toString(8)} ${r.content}` : `pending: ${r.why}`]));

/** Every file and symlink provision left, by absolute path, described the same way. */
function describeWritten(goal: Resolved): Map<string, string> {
  const out = new Map<string, string>();
  const add = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) out.set(path, `-> ${readlinkSync(path)}`);
    else if (st.isFile()) out.set(path, `${(st.mode & 0o777).toString(8)} ${readFileSync(path, "utf8")}`);
  };
  for (const rel of readdirSync(goal.machineDir, { recursive: true }) as string[]) if (!NOT_RENDERED.test(rel)) add(join(goal.machineDir, rel));
  [goal.nspawnConfigFile, goal.serviceOverrideFile, join(goal.host.root, SYSCTL_FILE)].forEach(add);
  return out;
}

describe("render lists every file provision writes", () => {
  for (const [what, extra] of [
    ["a node with mirrors, join material and an image", {}],
    ["a GPU host", { gpu: { mode: "nvidia", hostRoot: fakeGpuHost({ minimal: true }).root } }],
  ] as Array<[string, GoalInput]>) {
    test(what, async () => {
      const goal = await nodeGoal(extra);
      const before = renderedFiles(goal);
      expect(before.find((r) => r.name === "images-unit")).toMatchObject({ kind: "pending", why: `its lines name each image's archive by digest, known once provision has pulled ${SANDBOX}` });

      expect((await runLogged(provisionPlan(goal).work)).outcome).toBe("completed");
      const after = renderedFiles(goal);
      expect(after.filter((r) => r.kind === "pending")).toEqual([]);
      expect(describeRendered(after)).toEqual(describeWritten(goal));
      expect(configDrift(goal)).toEqual([]);
      // The host's own file is left to verify's host check, against the host manifest.
      writeFileSync(join(goal.host.root, SYSCTL_FILE), "# changed by hand\n");
      expect(configDrift(goal)).toEqual([]);
      // verify compares the same list: the images unit too, which it once checked on its own.
      const unit = after.find((r) => r.name === "images-unit")!.path;
      writeFileSync(unit, "[Unit]\n");
      expect(configDrift(goal).map((d) => d.path)).toEqual([unit]);
      const names = after.map((r) => r.name);
      expect(new Set(names).size).toBe(names.length);
      if (goal.gpu.on) expect(names).toContain("cdi");
    }, 30_000);
  }

  test("only what the phases left after --skip-phases write", () => {
    const names = (skipPhases: string[]) => renderedFiles(testGoal({ skipPhases })).map((r) => r.name);
    expect(names(["runtime", "images"])).toEqual(["host-sysctl", "nspawn", "override", "kmsg", "modules-load", "apt-sources", "hostname", "resolved-mask", "resolv-conf"]);
    expect(names(["host"])).not.toContain("host-sysctl");
    expect(renderedFiles(testGoal({ host: { sysctls: false } })).map((r) => r.name)).not.toContain("host-sysctl");
    expect(names(["install"])).not.toContain("hostname");
    expect(names(["workspace"])).not.toContain("nspawn");
  });
});

describe("render command", () => {
  const host = tempDir("render-cli");
  writeFileSync(join(host, "resolv.conf"), "nameserver 192.0.2.53\n");
  writeFileSync(join(host, "bootstrap.conf"), kubeconfig());
  const node = [
    "--machine", "kube9", "--machine-dir", "/nonexistent/machines/kube9", "--hostname", "node-9", "--arch", "amd64", "--host-modules=false",
    "--host-devices", "", "--gpu-mode", "none", "--bootstrap-suite", "bookworm", "--host-resolv-conf", join(host, "resolv.conf"),
    "--kubelet-bootstrap-kubeconfig", join(host, "bootstrap.conf"), "--runtime-registry-mirrors", "docker.io=https://mirror.example",
  ];
  const render = (...extra: string[]) => runSource(["render", ...node, ...extra]);
  /** The output split at its headers: path → what follows. */
  const sections = (out: string) => new Map(out.split(/^### /m).slice(1).map((s) => [s.slice(0, s.indexOf("\n")), s.slice(s.indexOf("\n") + 1)]));

  test("prints every file under a ### <path> header; a credential is not printed", async () => {
    const r = await render();
    expect([r.code, r.stderr]).toEqual([0, ""]);
    golden("render-kube9.txt", r.stdout.replaceAll(host, "<host>").replaceAll(defaultHostRoot(), "<host-root>"));
    expect(r.stdout).not.toContain("abcdef.0123456789abcdef");
    expect(sections(r.stdout).get("/nonexistent/machines/kube9/etc/kubernetes/pki/ca.crt")).toBe(`${CA}\n`);
  }, 30_000);

  test("--file picks one file's content, or a link's target", async () => {
    expect((await render("--file", "nspawn")).stdout).toStartWith("# kube9: written by kube-rootfs");
    expect((await render("--file", "containerd-config", "--containerd-version", "1.7.27")).stdout).toContain("\nversion = 2\n");
    expect((await render("--file", "hosts-toml:docker.io")).stdout).toContain('[host."https://mirror.example"]');
    expect((await render("--file", "kubelet-enabled")).stdout).toBe("symlink to /etc/systemd/system/kubelet.service\n");
    expect((await render("--file", "bootstrap-kubeconfig")).stdout).toBe("# not printed: written with mode 0600, it holds a credential\n");
  }, 30_000);

  test("an unknown name is a usage error listing the names", async () => {
    const r = await render("--file", "kubelet-cfg");
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("kube-rootfs: --file: unknown kubelet-cfg (names: host-sysctl, nspawn, override, kmsg, modules-load, apt-sources, hostname, ");
    expect(r.stderr).toContain(", kubelet-config, ");
    expect(r.stderr).toContain(", hosts-toml:docker.io, ");
  }, 30_000);

  test("a host file the goal copies in that cannot be read is the error provision would stop with", async () => {
    const r = await runSource(["render", "--kubelet-bootstrap-kubeconfig", join(host, "missing.conf")]);
    expect([r.code, r.stderr]).toEqual([1, `kube-rootfs: kubelet.bootstrapKubeconfig: cannot read ${join(host, "missing.conf")}: ENOENT\n`]);
  }, 30_000);

  test("two goals differ in the files their difference changes, and only there", async () => {
    const [old, next] = await Promise.all([render("--containerd-version", "1.7.27"), render("--containerd-version", "2.0.4")]);
    const a = sections(old.stdout);
    const b = sections(next.stdout);
    expect([...a.keys()]).toEqual([...b.keys()]);
    expect([...a.keys()].filter((path) => a.get(path) !== b.get(path))).toEqual(["/nonexistent/machines/kube9/etc/containerd/config.toml"]);
  }, 30_000);
});
