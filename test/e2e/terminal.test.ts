// The compiled binary in a real pseudo-terminal (tmux), as a person at 80 and at 200 columns
// sees it: one live download line that never wraps and never stays behind, no log line glued
// onto it, queued downloads shown as queued; a no-op re-run prints one line. Downloads come
// from a loopback mirror slowed down so the live line is on screen for a while.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compiledBinary, run } from "../helpers/binary";
import { defaultHostRoot } from "../helpers/fake-host";
import { serveDir, testMirror, trickle, type Served } from "../helpers/mirror";
import { removeDir, tempDir } from "../helpers/tmp";
import { sandboxRegistry } from "../helpers/sandbox-registry";

setDefaultTimeout(120_000);

const VERSION = (JSON.parse(readFileSync(join(import.meta.dir, "../../package.json"), "utf8")) as { version: string }).version;

let bin: string;
let served: Served;
let sandbox: string;
let dir: string;
let sessions = 0;
// A tmux server of this test's own, so no other server's environment or options leak in.
const SOCKET = `kube-rootfs-test-${process.pid}`;

// Big assets trickle in (about 12 MB/s each); checksum files and small binaries come at once.
const SLOW = /\.(tar\.gz|tgz)$|runc\.\w+$/;

beforeAll(async () => {
  bin = await compiledBinary();
  served = await serveDir((await testMirror()).dir, { faults: (path) => (SLOW.test(path) ? trickle(128 * 1024, 10) : null), timeoutMs: 300_000 });
  sandbox = (await sandboxRegistry()).image;
  dir = tempDir("terminal");
  // The server exits with its last session: without this one, a test's new session could reach
  // the server that the previous test's kill-session is shutting down ("server exited unexpectedly").
  tmux("new-session", "-d", "-s", "keep", "sleep", "3600");
});
afterAll(() => {
  Bun.spawnSync(["tmux", "-L", SOCKET, "kill-server"], { stderr: "ignore" });
  served.stop();
  removeDir(dir);
});

const tmux = (...args: string[]) => {
  const r = Bun.spawnSync(["tmux", "-L", SOCKET, ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr.toString()}`);
  return r.stdout.toString();
};

const provisionArgs = (name: string, mirror = served.url) => [
  bin, "provision", "--machine", name, "--machine-dir", join(dir, name, "root"), "--cache-dir", join(dir, name, "cache"),
  "--bootstrap-method", "none", "--nspawn-config-file", join(dir, name, "m.nspawn"), "--service-override-file", join(dir, name, "o.conf"),
  "--hostname", "node1", "--mirror", mirror, "--concurrency", "2", "--runtime-sandbox-image", sandbox,
  // tmux runs it outside run()'s environment: the host task gets the suite's fake host root too
  "--host-root", defaultHostRoot(),
];

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run the provision in a detached tmux session of `width` columns; returns its session name. */
function startInTerminal(name: string, width: number): string {
  const session = `${name}-${++sessions}`;
  const cmd = `${provisionArgs(name).map(shellQuote).join(" ")}; echo "exit=$?"; sleep 300`;
  // As a person's shell would run it: not under bun test's NODE_ENV=test.
  tmux("new-session", "-d", "-s", session, "-x", String(width), "-y", "50", "env", "-u", "NODE_ENV", "-u", "TEST", "sh", "-c", cmd);
  return session;
}

/**
 * Everything the terminal showed, scrollback included (-S -), wrapped rows joined back (so a
 * wrapped live line shows as one too long). The visible 50 rows alone are not enough: at 80
 * columns log lines wrap, and which of them scroll off depends on the order the tasks finish in.
 */
const screen = (session: string) => tmux("capture-pane", "-p", "-J", "-S", "-", "-t", session).split("\n");

const PROGRESS = /\b(queued|\d+(\.\d+)? MB( \d+ MB\/s)?( ETA \d+s)?)( \||$)/;
const LOG = /[ℹ✔⚠✖]|\[(info|success|warn|error)\]|\binstalled\b|\bcompleted\b/;

/** Watch the screen until the run prints its exit line; check every capture on the way. */
async function watch(session: string, width: number) {
  let sawLive = false;
  let sawQueued = false;
  for (const started = Date.now(); Date.now() - started < 90_000; await Bun.sleep(50)) {
    const lines = screen(session);
    const live = lines.filter((l) => PROGRESS.test(l) && !LOG.test(l));
    // Never a progress line wider than the screen (which would wrap), never more than one, never glued to log text.
    for (const l of lines.filter((l) => PROGRESS.test(l))) {
      expect(l.trimEnd().length).toBeLessThan(width);
      expect(l).not.toMatch(LOG);
    }
    expect(live.length).toBeLessThanOrEqual(1);
    if (live.length) sawLive = true;
    if (live.some((l) => / queued/.test(l))) sawQueued = true;
    const exit = lines.find((l) => /^exit=\d+/.test(l));
    if (exit) {
      tmux("kill-session", "-t", session);
      return { exit, lines: lines.filter((l) => l.trim()), sawLive, sawQueued };
    }
  }
  throw new Error(`${session}: the run did not finish; screen:\n${screen(session).join("\n")}`);
}

describe.each([80, 200])("at %i columns", (width) => {
  const name = `cli${width}t${process.pid}`;

  test("a cold provision: one live line, queued downloads shown as queued, nothing stale left", async () => {
    const seen = await watch(startInTerminal(name, width), width);
    expect(seen.exit).toBe("exit=0");
    expect(seen.sawLive).toBe(true);
    expect(seen.sawQueued).toBe(true);
    // Once done, no progress line is left anywhere on the screen.
    expect(seen.lines.filter((l) => PROGRESS.test(l) && !LOG.test(l))).toEqual([]);
    expect(seen.lines.some((l) => /\binstalled\b.*\bcontainerd\b/.test(l))).toBe(true);
    expect(seen.lines.at(-2)).toMatch(new RegExp(`${name} provisioned in [\\d.]+m?s`));
  });

  test("a no-op re-run prints one line, naming what was checked", async () => {
    const seen = await watch(startInTerminal(name, width), width);
    expect(seen.lines).toHaveLength(2);
    expect(seen.lines[0]).toMatch(new RegExp(`^(\\S+ )?${name} is up to date: host, ensure-workspace, kube, cri, cni, configure-os, disable-resolved, runtime, images, record-goal checked in \\d+ ms(; 1 host warning \\(kube-rootfs doctor\\))?$`));
    expect(seen.lines[1]).toBe("exit=0");
  });
});

test("a failure is printed once, in the final report, not also by each task that saw it", async () => {
  const name = `clifail${process.pid}`;
  const closedPort = served.url.replace(/:\d+$/, ":1");
  const r = await run([...provisionArgs(name, closedPort), "--retries", "1", "--skip-phases", "cri,cni", "--log-format", "pretty"]);
  expect(r.code).toBe(1);
  expect(`${r.stdout}${r.stderr}`.split("\n").filter((l) => l.includes("ECONNREFUSED"))).toHaveLength(1);
  // The host's readiness warnings (this machine kind's cgroups) may come first; the error is its own line.
  expect(r.stderr.split("\n").filter((l) => l.startsWith("kube-rootfs: kube: kubelet: "))).toHaveLength(1);
});

test("every request says User-Agent: kube-rootfs/<version>", () => {
  expect(served.requests.length).toBeGreaterThan(10);
  expect(new Set(served.requests.map((r) => r.userAgent))).toEqual(new Set([`kube-rootfs/${VERSION}`]));
});
