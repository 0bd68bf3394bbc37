// HTTP faults, through the compiled binary: each fails cleanly or recovers, and a clean run
// afterwards converges with verify clean.
import { afterAll, afterEach, expect, setDefaultTimeout } from "bun:test";
import * as faults from "../helpers/fault-server";
import { serveDir, testMirror, type FaultSpec, type Served } from "../helpers/mirror";
import { faultTest } from "./fault-test";
import { expectCleanFailure, expectConverges, newMachine, provision, stopCleanMirror, dropMachines } from "./harness";

afterEach(dropMachines);
setDefaultTimeout(120_000);

const RUNC = "/runc/v1.1.12/runc.amd64";
const CONTAINERD = "/containerd/v2.0.4/containerd-2.0.4-linux-amd64.tar.gz";
const servers: Served[] = [];
afterAll(async () => {
  servers.forEach((s) => s.stop());
  await stopCleanMirror();
});

async function faulty(spec: FaultSpec) {
  const s = await serveDir((await testMirror()).dir, { faults: spec });
  servers.push(s);
  return s;
}

/** The fault is survived: exit 0 at once, verify clean. */
async function recovers(spec: FaultSpec, path: string, check: (s: Served) => void = () => {}) {
  const s = await faulty(spec);
  const m = newMachine();
  const r = await provision(m, s.url);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(s.requests.filter((q) => q.path === path).length).toBeGreaterThanOrEqual(1);
  check(s);
  await expectConverges(m);
}

/** The fault fails the run with one line; then a clean run converges. */
async function failsCleanly(spec: FaultSpec, line: (url: string) => RegExp, artifact: string, extra: string[] = []) {
  const s = await faulty(spec);
  const m = newMachine();
  expectCleanFailure(await provision(m, s.url, extra), m, line(s.url), artifact);
  await expectConverges(m);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

faultTest("http-500-then-ok", () => recovers({ [RUNC]: [faults.status(500)] }, RUNC, (s) => expect(s.requests.filter((q) => q.path === RUNC)).toHaveLength(2)));

faultTest("http-404", () => failsCleanly({ [RUNC]: faults.status(404) }, (u) => new RegExp(`^kube-rootfs: cri: runc: ${esc(u + RUNC)}: HTTP 404 \\(not found\\)$`), "runc"));

faultTest("http-reset", () =>
  // A reset discards what the client's kernel had not yet read, so the retry may or may not
  // carry a Range; that it was retried and verified is what counts.
  recovers({ [CONTAINERD]: [faults.resetMidBody(2_000_000)] }, CONTAINERD, (s) => expect(s.requests.filter((q) => q.path === CONTAINERD)).toHaveLength(2)));

faultTest("http-short", () =>
  recovers({ [RUNC]: [faults.shortBody(1_500_000)] }, RUNC, (s) => expect(s.requests.filter((q) => q.path === RUNC).at(-1)!.range).toMatch(/^bytes=[1-9]\d*-$/)));

faultTest("http-stall", () => failsCleanly({ [RUNC]: faults.stall(10_000) }, (u) => new RegExp(`^kube-rootfs: cri: runc: ${esc(u + RUNC)}: no data for 2s \\(stalled\\) \\(gave up after 2 attempts\\)$`), "runc"));

faultTest("http-endless", () =>
  failsCleanly({ [RUNC]: faults.endless() }, (u) => new RegExp(`^kube-rootfs: cri: runc: ${esc(u + RUNC)}: response larger than the 50000000-byte cap \\(maxDownloadBytes\\)$`), "runc", ["--max-download-bytes", "50000000"]));

faultTest("http-wrong-checksum", () =>
  failsCleanly({ [RUNC]: faults.wrongBytes() }, (u) => new RegExp(`^kube-rootfs: cri: runc: sha256 mismatch for ${esc(u + RUNC)}: expected [0-9a-f]{64}, got [0-9a-f]{64}$`), "runc"));

faultTest("http-garbage-checksum", () =>
  failsCleanly({ "/runc/v1.1.12/runc.sha256sum": faults.garbage("<html>503 Service Unavailable</html>") }, (u) => new RegExp(`^kube-rootfs: cri: runc: checksum file ${esc(u)}/runc/v1\\.1\\.12/runc\\.sha256sum has no sha256 for runc\\.amd64`), "runc"));

faultTest("http-redirect-loop", () => failsCleanly({ [RUNC]: faults.redirectLoop() }, (u) => new RegExp(`^kube-rootfs: cri: runc: ${esc(u + RUNC)}: more than 10 redirects$`), "runc"));

faultTest("http-trickle", () => recovers({ "/kubernetes/v1.33.1/bin/linux/amd64/kubectl": faults.trickle(8, 25) }, "/kubernetes/v1.33.1/bin/linux/amd64/kubectl"));
