// The docs' commands are ones the CLI has.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { commandLines, unknownFlags } from "../helpers/commands";

const read = (page: string) => readFileSync(join(import.meta.dir, "..", "..", page), "utf8");
const pages = ["README.md", "docs/provisioning.md", "docs/machine.md", "docs/updating.md", "docs/render-and-verify.md", "docs/air-gapped.md"];

test("every command line the docs show uses a command and flags the CLI has", async () => {
  const lines = pages.flatMap((p) => commandLines(read(p)));
  expect(lines.length).toBeGreaterThan(5);
  expect(await unknownFlags(lines)).toEqual([]);
});
