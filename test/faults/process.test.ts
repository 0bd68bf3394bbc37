// Process faults through the compiled binary: SIGKILL at random points, SIGTERM/SIGINT/SIGHUP
// mid-download, and concurrent runs.
import { afterAll, afterEach, expect, setDefaultTimeout } from "bun:test";
import { readManifest } from "../../src/artifacts/manifest";
import { events, run, testEnv } from "../helpers/binary";
import * as faults from "../helpers/fault-server";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { faultTest } from "./fault-test";
import { cleanMirror, stopCleanMirror, expectConverges, leftovers, newMachine, provision, provisionArgv, verify, dropMachines } from "./harness";

afterEach(dropMachines);
setDefaultTimeout(300_000);
const servers: Served[] = [];
afterAll(async () => {
  servers.forEach((s) => s.stop());
  await stopCleanMirror();
});

/** A mirror whose containerd tarball trickles, so a run is reliably mid-download for a while. */
async function slowMirror() {
  const s = await serveDir((await testMirror()).dir, { faults: { "/containerd/*": faults.trickle(64 * 1024, 20) } });
  servers.push(s);
  return s;
}

/** Start a provision in the background; resolves once its JSON log shows the install phase running. */
async function startProvision(m: ReturnType<typeof newMachine>, mirror: string) {
  const proc = Bun.spawn(await provisionArgv(m, mirror), { env: testEnv(), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const reader = proc.stdout.getReader();
  let seen = "";
  while (!seen.includes('"msg":"progress"')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`provision ended before downloading: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  void proc.stdout.pipeTo(new WritableStream());
  return proc;
}

// A small deterministic PRNG, so a failing kill point can be replayed.
function prng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

faultTest("process-sigkill", async () => {
  const { url } = await cleanMirror();
  // How long a whole cold run takes here: kill points are spread over it.
  const probe = newMachine();
  const t0 = performance.now();
  expect((await provision(probe, url)).code).toBe(0);
  const span = performance.now() - t0;
  const random = prng(20261125);
  const points: number[] = [];
  for (let i = 0; i < 20; i++) {
    const m = newMachine();
    const delay = Math.round(random() * span);
    points.push(delay);
    const proc = Bun.spawn(await provisionArgv(m, url), { env: testEnv(), stdout: "ignore", stderr: "ignore", stdin: "ignore" });
    await Bun.sleep(delay);
    proc.kill("SIGKILL");
    await proc.exited;
    const again = await provision(m, url);
    expect({ cycle: i, delay, code: again.code, stderr: again.stderr }).toEqual({ cycle: i, delay, code: 0, stderr: "" });
    const v = await verify(m, url);
    expect({ cycle: i, delay, code: v.code, stdout: v.code ? v.stdout : "" }).toEqual({ cycle: i, delay, code: 0, stdout: "" });
    expect(leftovers(m.root)).toEqual([]);
    expect(leftovers(m.cache)).toEqual([]);
    dropMachines();
  }
  console.log(`SIGKILL points (ms into a ${Math.round(span)} ms run): ${points.join(" ")}`);
});

faultTest("process-sigterm", async () => {
  const s = await slowMirror();
  for (const [signal, code, name] of [["SIGTERM", 143, "SIGTERM"], ["SIGINT", 130, "SIGINT"], ["SIGHUP", 129, "SIGHUP"]] as const) {
    const m = newMachine();
    const proc = await startProvision(m, s.url);
    proc.kill(signal);
    expect(await proc.exited).toBe(code);
    const stderr = (await new Response(proc.stderr).text()).trim().split("\n");
    expect(stderr).toEqual([expect.stringMatching(new RegExp(`^kube-rootfs: interrupted by ${name} during .*cri.*; temp files removed, run again to finish$`))]);
    expect(leftovers(m.root)).toEqual([]);
    expect(leftovers(m.cache)).toEqual([]);
    expect(readManifest(m.root).containerd).toBeUndefined();
    await expectConverges(m);
  }
});

faultTest("process-concurrent", async () => {
  const s = await slowMirror();
  const m = newMachine();
  const first = await startProvision(m, s.url);
  const second = await run(await provisionArgv(m, s.url));
  expect(second.code).toBe(1);
  expect(second.stderr.trim()).toMatch(new RegExp(`^kube-rootfs: machine ${m.name} is being provisioned by pid ${first.pid} \\(lock .+\\)$`));
  expect(events(second.stdout).at(-1)).toMatchObject({ msg: "done", fields: { outcome: "failed", exitCode: 1 } });
  expect(await first.exited).toBe(0);
  expect((await verify(m, s.url)).code).toBe(0);

  // Two machines at once, one shared cache: both converge, and the cache holds good copies.
  const { url } = await cleanMirror();
  const a = newMachine();
  const b = newMachine({ cache: a.cache });
  const [ra, rb] = await Promise.all([provision(a, url), provision(b, url)]);
  expect([ra.code, rb.code, ra.stderr, rb.stderr]).toEqual([0, 0, "", ""]);
  expect([(await verify(a, url)).code, (await verify(b, url)).code]).toEqual([0, 0]);
  expect(leftovers(a.cache)).toEqual([]);
  const c = newMachine({ cache: a.cache });
  expect((await provision(c, "http://127.0.0.1:9")).code).toBe(0); // every artifact from the cache
});
