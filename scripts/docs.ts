// Rewrite the generated parts of README.md: the config reference (from the schema) and the
// Reliability table (from the fault catalogue). Usage: bun scripts/docs.ts
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigReference } from "../src/config/reference";
import { renderReliabilityTable } from "../test/faults/catalog";

const readme = join(import.meta.dir, "..", "README.md");
let text = readFileSync(readme, "utf8");
for (const [name, body] of [
  ["config-reference", renderConfigReference()],
  ["reliability", renderReliabilityTable()],
] as const) {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`README.md: markers ${begin} … ${end} not found`);
  text = text.slice(0, start + begin.length) + "\n" + body + "\n" + text.slice(stop);
}
writeFileSync(readme, text);
console.log("README.md generated sections updated");
