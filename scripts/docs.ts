// Rewrite the generated parts of the docs: the config reference (from the schema) and the
// Reliability table (from the fault catalogue). Usage: bun scripts/docs.ts
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigReference } from "../src/config/reference";
import { renderReliabilityTable } from "../test/faults/catalog";

for (const [page, name, body] of [
  ["configuration.md", "config-reference", renderConfigReference()],
  ["reliability.md", "reliability", renderReliabilityTable()],
] as const) {
  const file = join(import.meta.dir, "..", "docs", page);
  let text = readFileSync(file, "utf8");
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`docs/${page}: markers ${begin} … ${end} not found`);
  text = text.slice(0, start + begin.length) + "\n" + body + "\n" + text.slice(stop);
  writeFileSync(file, text);
}
console.log("docs: generated sections updated");
