// The CLI a person meets: help per command that fits the terminal, help/--version/-V, "did you
// mean", uname -m arch names, YAML errors with line and column, the quote hint for a version
// YAML read as a number, and a warning for an unknown KUBE_ROOTFS_* variable.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { commandHelp, wrap } from "../../src/cli/help";
import { allCommands, helpEntry } from "../../src/cli/root";
import { parseArchList } from "../../src/config/arch";
import { closest, editDistance } from "../../src/config/closest";
import { loadGoal, unknownEnvWarnings, yamlErrorAt } from "../../src/config/load";
import { runSource } from "../helpers/binary";
import { parseArgs as cittyParseArgs, type ArgsDef } from "citty";
import { parseArgs } from "../../src/cli/flags";
import { errorOf, tempDir } from "../helpers/goal";

const optionLines = (help: string) => help.split("\n").filter((l) => /^ {2}--/.test(l));

describe("--help", () => {
  test("lists only the options a command uses: its own and the common ones first, download overrides last", async () => {
    const r = await runSource(["render", "--help"]);
    expect(r.code).toBe(0);
    const flags = optionLines(r.stdout).map((l) => l.trim().split(/\s/)[0]);
    expect(flags.slice(0, 6)).toEqual(["--file", "--config", "--machine", "--kubernetes-version", "--arch", "--verbose"]);
    // render's files depend on the host facts, versions (containerd's config), the suite (apt sources) and the kubelet settings.
    for (const used of ["--host-devices", "--containerd-version", "--bootstrap-suite", "--kubelet-bootstrap-kubeconfig"]) expect(flags).toContain(used);
    for (const unused of ["--retries", "--cache-dir", "--offline", "--dry-run"]) expect(flags).not.toContain(unused);

    const fetch = (await runSource(["fetch", "--help"])).stdout;
    const fetchFlags = optionLines(fetch).map((l) => l.trim().split(/\s/)[0]!);
    expect(fetchFlags.slice(0, 5)).toEqual(["--bundle", "--with-rootfs", "--check", "--dry-run", "--config"]);
    expect(fetchFlags).not.toContain("--hostname");
    // The 28 per-artifact flags fold into four patterns, after every other option.
    const downloads = fetchFlags.filter((f) => f.startsWith("--downloads-"));
    expect(downloads).toEqual(["--downloads-ARTIFACT-base-url", "--downloads-ARTIFACT-url", "--downloads-ARTIFACT-version", "--downloads-ARTIFACT-sha256"]);
    expect(fetchFlags.slice(-4)).toEqual(downloads);
  });

  test("no line is wider than the terminal: 80 columns when stdout is not one, or the width given", async () => {
    for (const [name, cmd] of Object.entries(await allCommands())) {
      const r = await runSource([name, "--help"]);
      expect(r.stdout.split("\n").filter((l) => l.length > 80)).toEqual([]);
      expect(commandHelp(helpEntry(name, cmd), 50).split("\n").filter((l) => l.length > 50)).toEqual([]);
    }
    expect(wrap("a bb ccc dddd", 6)).toEqual(["a bb", "ccc", "dddd"]);
    expect(wrap("abcdefgh", 3)).toEqual(["abc", "def", "gh"]);
    expect(wrap("a,bb,ccc,d", 6)).toEqual(["a,bb,", "ccc,d"]);
  });

  test("help [command], --version and -V", async () => {
    const viaHelp = await runSource(["help", "provision"]);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe((await runSource(["provision", "--help"])).stdout);
    const all = await runSource(["help"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain("Commands:\n  provision");
    for (const flag of ["--version", "-V"]) {
      const r = await runSource([flag]);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: (await runSource(["version"])).stdout });
    }
  });

  test("version's switch is read as citty reads one: --json, --json=false, --no-json, the last one given", async () => {
    const json = (await runSource(["version"])).stdout.replace(/^kube-rootfs (\S+) \(commit (\S+), (\S+)\)\n$/, '{"version":"$1","commit":"$2","target":"$3"}\n');
    const text = (await runSource(["version"])).stdout;
    expect((await runSource(["version", "--json"])).stdout).toBe(json);
    expect((await runSource(["version", "--json=true"])).stdout).toBe(json);
    expect((await runSource(["version", "--json", "--no-json"])).stdout).toBe(text);
    expect((await runSource(["version", "--no-json", "--json"])).stdout).toBe(json);
    expect((await runSource(["version", "--json=false"])).stdout).toBe(text);
  });

  test("arguments are read as citty reads them, without loading it; of a switch given both ways, the last one wins", () => {
    const defs: ArgsDef = {
      action: { type: "positional", required: false },
      ref: { type: "positional", required: false },
      "dry-run": { type: "boolean" },
      drain: { type: "boolean", default: true },
      "cache-dir": { type: "string" },
      machine: { type: "string" },
    };
    const lines = [
      [], ["push", "reg/repo:tag", "extra"], ["--dry-run", "--cache-dir", "/c"], ["--cache-dir=/a=b", "--machine="], ["--machine", "--dry-run"], ["--machine"],
      ["--dry-run=false"], ["--dry-run=yes"], ["--dry-run", "false"], ["--no-drain"], ["--drain=false"], ["--no-machine"], ["--machine", "a", "--machine", "b"],
      ["a", "--", "--dry-run", "b"], ["-h", "x"], ["-"], ["--dry-run", "--no-dry-run"],
    ];
    // citty also keeps each option under its camelCase name, and -h as h (root.ts reads -h itself); nothing reads those.
    for (const argv of lines) {
      const theirs = Object.fromEntries(Object.entries(cittyParseArgs(argv, defs)).filter(([k]) => !/[A-Z]/.test(k) && k !== "h"));
      expect({ argv, args: { ...parseArgs(argv, defs) } as Record<string, unknown> }).toEqual({ argv, args: theirs });
    }
    // citty applies every --no-x last; here the last one given wins, as in version above.
    expect(parseArgs(["--no-dry-run", "--dry-run"], defs)["dry-run"]).toBe(true);
  });
});

describe("did you mean", () => {
  test("a misspelt command or flag is named with the nearest real one; exit 2", async () => {
    const cmd = await runSource(["provison"]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toStartWith("kube-rootfs: unknown command provison, did you mean provision? (commands: ");
    const help = await runSource(["help", "rendr"]);
    expect(help.stderr).toContain("unknown command rendr, did you mean render?");
    const flag = await runSource(["render", "--machin", "kube1"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe("kube-rootfs: --machin: unknown flag, did you mean --machine? (see --help)\n");
    expect((await runSource(["render", "--zzzzzz"])).stderr).toBe("kube-rootfs: --zzzzzz: unknown flag (see --help)\n");
    const stray = await runSource(["render", "--host-modules", "false"]);
    expect({ code: stray.code, stderr: stray.stderr }).toEqual({ code: 2, stderr: "kube-rootfs: --host-modules false: a switch takes no separate value; write --host-modules=false or --no-host-modules\n" });
  });

  test("edit distance and what counts as near", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(closest("provison", ["provision", "version"])).toBe("provision");
    expect(closest("xyz", ["provision", "version"])).toBeUndefined();
    expect(closest("xyz", ["provision", "version"], false)).toBe("version");
  });
});

describe("settings a person writes", () => {
  test("fetch --arch $(uname -m)-style names plans for those arches", async () => {
    const r = await runSource(["fetch", "--dry-run", "--arch", "x86_64,aarch64", "--bundle", tempDir("cli-bundle")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("containerd-2.0.4-linux-amd64.tar.gz");
    expect(r.stdout).toContain("containerd-2.0.4-linux-arm64.tar.gz");
  });

  test("--arch takes uname -m names, in the schema and in fetch's list", () => {
    expect(loadGoal({ flags: { arch: "x86_64" } }).arch).toBe("amd64");
    expect(loadGoal({ env: { KUBE_ROOTFS_ARCH: "aarch64" } }).arch).toBe("arm64");
    expect(parseArchList("x86_64, amd64,aarch64", "--arch")).toEqual(["amd64", "arm64"]);
    expect(errorOf(() => parseArchList("amd64,sparc", "--arch")).message).toBe("--arch: expected a list of amd64|arm64|x86_64|aarch64, got amd64,sparc");
  });

  test("a YAML error carries the line and column where the text stops being valid", () => {
    const dir = tempDir("cli-yaml");
    const file = join(dir, "node.yaml");
    writeFileSync(file, "machine: kube1\nbootstrap:\n  suite: noble\n  bad: x: y\n");
    expect(errorOf(() => loadGoal({ configFile: file })).message).toMatch(new RegExp(`^${file}:4:9: not valid YAML: `));
    expect(yamlErrorAt("a: 1\nb: [1, 2\n")).toEqual({ line: 2, column: 4 });
    expect(yamlErrorAt('a: "open\n')).toEqual({ line: 1, column: 4 });
    expect(yamlErrorAt("a: 1\n")).toBeUndefined();
  });

  test("a version YAML read as a number gets a hint to quote it, as written", () => {
    const dir = tempDir("cli-yaml");
    const file = join(dir, "node.yaml");
    writeFileSync(file, "versions:\n  kubernetes: 1.30\n");
    expect(errorOf(() => loadGoal({ configFile: file })).message).toBe(`${file}:2: versions.kubernetes: expected string, got number (YAML reads 1.30 as a number; quote it: "1.30")`);
    writeFileSync(file, "downloads:\n  runc:\n    version: 1.2\n");
    expect(errorOf(() => loadGoal({ configFile: file })).message).toEndWith('(YAML reads 1.2 as a number; quote it: "1.2")');
  });

  test("an unknown KUBE_ROOTFS_* variable is a warning naming the closest known one", async () => {
    expect(unknownEnvWarnings({ KUBE_ROOTFS_MACHIN: "x", KUBE_ROOTFS_MACHINE: "y", HOME: "/root" })).toEqual([
      "KUBE_ROOTFS_MACHIN is not a setting and is ignored (the closest is KUBE_ROOTFS_MACHINE)",
    ]);
    const r = await runSource(["render", "--file", "nspawn"], { KUBE_ROOTFS_KUBERNETES_VERSOIN: "1.30.0" });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("kube-rootfs: warning: KUBE_ROOTFS_KUBERNETES_VERSOIN is not a setting and is ignored (the closest is KUBE_ROOTFS_KUBERNETES_VERSION)\n");
    expect(r.stdout).toStartWith("# kube1: written by kube-rootfs");
  });
  test("KUBE_ROOTFS_TIMINGS=1 ends the run with its stage marks on stderr, one JSON line, and is no unknown setting", async () => {
    const r = await runSource(["render", "--file", "nspawn"], { KUBE_ROOTFS_TIMINGS: "1" });
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("# kube1: written by kube-rootfs");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const { timings } = JSON.parse(lines[0]!) as { timings: Record<string, number> };
    expect(Object.keys(timings)).toEqual(["start", "loaded", "command", "goal", "logger", "exit"]);
    const at = Object.values(timings);
    expect(at.every((t, i) => t > 0 && (i === 0 || t >= at[i - 1]!))).toBe(true);
  });
});
