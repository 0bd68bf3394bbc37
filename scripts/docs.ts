// Rewrite the config reference in README.md from the schema: bun scripts/docs.ts
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigReference } from "../src/config/reference";

export const BEGIN = "<!-- config-reference:begin -->";
export const END = "<!-- config-reference:end -->";

const readme = join(import.meta.dir, "..", "README.md");
const text = readFileSync(readme, "utf8");
const start = text.indexOf(BEGIN);
const end = text.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md: markers ${BEGIN} … ${END} not found`);
writeFileSync(readme, text.slice(0, start + BEGIN.length) + "\n" + renderConfigReference() + "\n" + text.slice(end));
console.log("README.md config reference updated");
