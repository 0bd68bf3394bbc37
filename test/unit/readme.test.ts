// The README's config reference is the schema's, and its commands are ones the CLI has.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allCommands } from "../../src/cli/root";
import { renderConfigReference } from "../../src/config/reference";

const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");

test("config reference matches the schema (run bun scripts/docs.ts)", () => {
  const start = readme.indexOf("<!-- config-reference:begin -->");
  const end = readme.indexOf("<!-- config-reference:end -->");
  expect(start).toBeGreaterThan(0);
  expect(readme.slice(start, end)).toContain(renderConfigReference());
});

test("every command line the README shows uses a command and flags the CLI has", async () => {
  const commands = await allCommands();
  const lines = readme.match(/(?<=kube-rootfs(-linux-x64|-linux-arm64)? )[a-z]+[^\n`|]*/g) ?? [];
  expect(lines.length).toBeGreaterThan(5);
  const wrong = lines.flatMap((line) => {
    const name = line.split(" ")[0]!;
    const cmd = commands[name];
    if (!cmd) return [`${line}: no command ${name}`];
    const known = new Set(["help", ...Object.keys(cmd.cmd.args ?? {})]);
    return [...line.matchAll(/--([a-z0-9-]+)/g)].map((m) => m[1]!).filter((f) => !known.has(f)).map((f) => `${line}: --${f}`);
  });
  expect(wrong).toEqual([]);
});
