// examples/cloud-init.yaml is valid cloud-config whose commands the CLI really accepts.
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadGoal } from "../../src/config/load";
import { commandLines, unknownFlags } from "../helpers/commands";
import { tempDir } from "../helpers/tmp";

const text = readFileSync(join(import.meta.dir, "..", "..", "examples", "cloud-init.yaml"), "utf8");

test("is #cloud-config YAML with write_files and runcmd", () => {
  expect(text.startsWith("#cloud-config\n")).toBe(true);
  const doc = Bun.YAML.parse(text) as { write_files: Array<{ path: string; content: string }>; runcmd: string[][] };
  expect(doc.write_files.map((f) => f.path)).toEqual(["/etc/kube-rootfs/node.yaml", "/usr/local/sbin/kube-rootfs-install"]);
  expect(doc.runcmd[0]).toEqual(["/usr/local/sbin/kube-rootfs-install"]);
});

test("checks the binary against SHA256SUMS before running it, and logs JSON to a file", () => {
  const doc = Bun.YAML.parse(text) as { write_files: Array<{ path: string; content: string }> };
  const script = doc.write_files[1]!.content;
  expect(script.indexOf("sha256sum -c")).toBeGreaterThan(0);
  expect(script.indexOf("sha256sum -c")).toBeLessThan(script.indexOf("install -m 0755"));
  expect(script).toContain("--log-format json >> /var/log/kube-rootfs.log");
});

test("its commands use flags the CLI has, and its node.yaml is a valid goal state", async () => {
  const lines = commandLines(text);
  expect(lines.length).toBeGreaterThan(0);
  expect(await unknownFlags(lines)).toEqual([]);
  const doc = Bun.YAML.parse(text) as { write_files: Array<{ path: string; content: string }> };
  const dir = tempDir("cloud-init");
  writeFileSync(join(dir, "node.yaml"), doc.write_files[0]!.content);
  expect(loadGoal({ configFile: join(dir, "node.yaml") }).versions.kubernetes).toBe("1.33.1");
});
