// The goal provision saves with a machine: what it keeps, how verify layers it under config,
// env and flags, and how a bad one is reported.
import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadGoal } from "../../src/config/load";
import { readSavedGoal, SAVED_GOAL, savedGoalText } from "../../src/config/saved";
import { GoalSchema } from "../../src/config/schema";
import { ConfigError } from "../../src/errors";
import { tempDir } from "../helpers/tmp";

const given = GoalSchema.parse({
  machine: "vfsaved", hostname: "node-9", versions: { kubernetes: "1.32.4" }, bootstrap: { suite: "bookworm" },
  logFormat: "json", offline: true, cacheDir: "/srv/cache", retries: 7, skipPhases: ["cni"],
});

function savedIn(text: string) {
  const root = tempDir("vf-saved");
  mkdirSync(join(root, "var/lib/kube-rootfs"), { recursive: true });
  writeFileSync(join(root, SAVED_GOAL), text);
  return { root, path: join(root, SAVED_GOAL) };
}

test("keeps the goal as given and drops the options that only steer one run", () => {
  const goal = JSON.parse(savedGoalText(given)).goal;
  expect(goal).toMatchObject({ machine: "vfsaved", hostname: "node-9", versions: { kubernetes: "1.32.4" }, skipPhases: ["cni"] });
  for (const runOnly of ["logFormat", "offline", "cacheDir", "retries", "concurrency", "timeouts", "maxDownloadBytes"]) expect(goal).not.toHaveProperty(runOnly);
});

test("is the lowest layer: the saved values hold unless config, env or flags say otherwise", () => {
  const { root } = savedIn(savedGoalText(given));
  const saved = readSavedGoal(root)!;
  const alone = loadGoal({ saved });
  expect(alone).toMatchObject({ machine: "vfsaved", hostname: "node-9", versions: { kubernetes: "1.32.4" }, offline: false, retries: 4 });
  const config = join(root, "node.yaml");
  writeFileSync(config, "hostname: from-file\n");
  const layered = loadGoal({ saved, configFile: config, env: { KUBE_ROOTFS_BOOTSTRAP_SUITE: "trixie" }, flags: { "kubernetes-version": "1.33.1" } });
  expect(layered).toMatchObject({ machine: "vfsaved", hostname: "from-file", bootstrap: { suite: "trixie" }, versions: { kubernetes: "1.33.1" } });
});

test("none saved: nothing to layer", () => {
  expect(readSavedGoal(tempDir("vf-saved-none"))).toBeUndefined();
});

test("a bad value in it is a ConfigError naming the file and the field", () => {
  const { root, path } = savedIn(JSON.stringify({ schema: 1, goal: { hostname: 42 } }));
  const err = (() => {
    try {
      loadGoal({ saved: readSavedGoal(root) });
    } catch (e) {
      return e as Error;
    }
  })();
  expect(err).toBeInstanceOf(ConfigError);
  expect(err!.message).toBe(`${path}: hostname: expected string, got number`);
});

test("keeps what provision bound beside the goal; a record that is not one is a ConfigError naming the file", () => {
  const gpu = { devices: [{ path: "/dev/nvidia0", major: 195, minor: 0 }], files: ["/usr/bin/nvidia-smi"] };
  expect(readSavedGoal(savedIn(savedGoalText(given, { gpu })).root)!.result).toEqual({ gpu });
  expect(readSavedGoal(savedIn(savedGoalText(given)).root)!.result).toEqual({});
  const { root, path } = savedIn(JSON.stringify({ schema: 1, goal: {}, result: { gpu: { devices: "all" } } }));
  expect(() => readSavedGoal(root)).toThrow(new ConfigError(`${path}: result.gpu is not a record of bound GPU nodes and files; run provision again`));
});

test("a file that is not a saved goal is a ConfigError naming it", () => {
  const { root, path } = savedIn("{ not json");
  expect(() => readSavedGoal(root)).toThrow(new ConfigError(`${path}: not a saved goal (expected {"goal": {…}}); run provision again or remove it`));
});
