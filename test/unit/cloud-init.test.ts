// examples/cloud-init.yaml is valid cloud-config: one install script run by one runcmd entry,
// its packages listed, its checksum pinned, and its commands ones the CLI accepts. (The script
// runs for real in test/e2e/cloud-init.test.ts.)
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadGoal } from "../../src/config/load";
import { cliProblems } from "../helpers/commands";
import { cloudInitExample } from "../helpers/cloud-init";
import { tempDir } from "../helpers/tmp";

const example = cloudInitExample();

test("is #cloud-config with packages, write_files and one runcmd entry running the install script", () => {
  expect(example.text.startsWith("#cloud-config\n")).toBe(true);
  expect(example.doc.packages).toEqual(expect.arrayContaining(["systemd-container", "mmdebstrap", "zstd", "curl"]));
  expect(example.doc.package_update).toBe(true);
  expect(example.doc.runcmd).toEqual([["/usr/local/sbin/kube-rootfs-install"]]);
  expect(example.script.startsWith("#!/bin/bash\n")).toBe(true);
  expect(example.script).toContain("\nset -euo pipefail\n");
});

test("pins the executable's sha256 in the user-data and checks it before installing", () => {
  const { script } = example;
  expect(script).toMatch(/^SHA256_LINUX_X64=[0-9a-f]{64}$/m);
  expect(script).toMatch(/^SHA256_LINUX_ARM64=[0-9a-f]{64}$/m);
  expect(script).not.toContain("SHA256SUMS");
  expect(script.indexOf("sha256sum --check")).toBeGreaterThan(0);
  expect(script.indexOf("sha256sum --check")).toBeLessThan(script.indexOf("install -m 0755"));
  expect(script).toMatch(/provision [^\n]*\| tee -a "\$LOG"\n/);
});

test("its commands use flags the CLI has, and its node.yaml is a valid goal state", async () => {
  const lines = [...example.script.matchAll(/"\$BIN" ([a-z]+[^\n|>]*)/g)].map((m) => m[1]!);
  expect(lines).toHaveLength(1);
  expect(await cliProblems(lines)).toEqual([]);
  const dir = tempDir("cloud-init");
  writeFileSync(join(dir, "node.yaml"), example.nodeYaml);
  expect(loadGoal({ configFile: join(dir, "node.yaml") }).versions.kubernetes).toBe("1.33.1");
});
