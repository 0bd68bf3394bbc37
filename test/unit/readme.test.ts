// The README's config reference is the schema's, and its commands are ones the CLI has.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigReference } from "../../src/config/reference";
import { commandLines, unknownFlags } from "../helpers/commands";

const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");

test("config reference matches the schema (run bun scripts/docs.ts)", () => {
  const start = readme.indexOf("<!-- config-reference:begin -->");
  const end = readme.indexOf("<!-- config-reference:end -->");
  expect(start).toBeGreaterThan(0);
  expect(readme.slice(start, end)).toContain(renderConfigReference());
});

test("every command line the README shows uses a command and flags the CLI has", async () => {
  const lines = commandLines(readme);
  expect(lines.length).toBeGreaterThan(5);
  expect(await unknownFlags(lines)).toEqual([]);
});
