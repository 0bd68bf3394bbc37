// The artifact issue's end-to-end promise, with the compiled binary: provision --mirror installs
// all seven artifacts verified, and a second run skips everything without a request.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { readManifest } from "../../src/artifacts/manifest";
import { events } from "../helpers/binary";
import { newMachine, provision, verify } from "../faults/harness";
import { serveDir, testMirror, type Served } from "../helpers/mirror";

setDefaultTimeout(120_000);
let served: Served;
afterAll(() => served?.stop());

test("provision --mirror installs all seven verified; the second run skips everything", async () => {
  served = await serveDir((await testMirror()).dir);
  const m = newMachine();
  const first = await provision(m, served.url);
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" });
  const installed = events(first.stdout).filter((e) => e.msg === "installed").map((e) => e.fields!.artifact);
  expect(installed.sort()).toEqual(["cni", "containerd", "crictl", "kubeProxy", "kubectl", "kubelet", "runc"]);
  const done = events(first.stdout).filter((e) => e.msg === "downloaded");
  expect(done).toHaveLength(7);
  for (const e of done) expect(e.fields).toMatchObject({ bytes: expect.any(Number), seconds: expect.any(Number), MBps: expect.any(Number) });
  // JSON progress is bounded: at most one event per quarter (25/50/75 %) for each artifact.
  const progress = events(first.stdout).filter((e) => e.msg === "progress");
  expect(progress.length).toBeGreaterThan(0);
  for (const name of installed) expect(progress.filter((e) => e.fields!.artifact === name).length).toBeLessThanOrEqual(3);
  expect(Object.keys(readManifest(m.root))).toHaveLength(7);

  const requests = served.requests.length;
  const second = await provision(m, served.url);
  expect(second.code).toBe(0);
  const outcomes = Object.fromEntries(events(second.stdout).filter((e) => e.task && e.duration !== undefined).map((e) => [e.task, e.msg]));
  expect(outcomes).toMatchObject({ kube: "skipped", cri: "skipped", cni: "skipped", "configure-os": "skipped", "disable-resolved": "skipped", runtime: "skipped", provision: "skipped" });
  expect(served.requests.length).toBe(requests);
  expect((await verify(m, served.url)).code).toBe(0);
});

test("an arm64 rootfs on this host: installed and skipped the same way, never executed", async () => {
  served ??= await serveDir((await testMirror()).dir);
  const m = newMachine();
  const arm = ["--arch", "arm64"];
  expect((await provision(m, served.url, arm)).code).toBe(0);
  expect(readManifest(m.root).runc!.arch).toBe("arm64");
  const again = await provision(m, served.url, arm);
  expect(events(again.stdout).find((e) => e.task === "provision" && e.duration !== undefined)!.msg).toBe("skipped");
});
