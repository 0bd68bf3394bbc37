// The docs' config reference is the schema's, and their commands are ones the CLI has.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigReference } from "../../src/config/reference";
import { commandLines, unknownFlags } from "../helpers/commands";

const read = (page: string) => readFileSync(join(import.meta.dir, "..", "..", page), "utf8");
const pages = ["README.md", "docs/provisioning.md", "docs/machine.md", "docs/updating.md", "docs/render-and-verify.md", "docs/air-gapped.md"];

test("config reference matches the schema (run bun scripts/docs.ts)", () => {
  const text = read("docs/configuration.md");
  const start = text.indexOf("<!-- config-reference:begin -->");
  const end = text.indexOf("<!-- config-reference:end -->");
  expect(start).toBeGreaterThan(0);
  expect(text.slice(start, end)).toContain(renderConfigReference());
});

test("every command line the docs show uses a command and flags the CLI has", async () => {
  const lines = pages.flatMap((p) => commandLines(read(p)));
  expect(lines.length).toBeGreaterThan(5);
  expect(await unknownFlags(lines)).toEqual([]);
});
