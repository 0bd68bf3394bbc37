// The generated parts of the docs, each between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in
// its page: docs/cli.md's commands (what --help shows, from the citty definitions),
// docs/configuration.md's fields (from the zod schema) and docs/reliability.md's faults (from the
// suite's catalogue). Usage: bun scripts/docs.ts (test/unit/docs.test.ts fails when a page is not
// what this writes).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ArgDef } from "citty";
import { DOWNLOADS_NOTE, helpOptions, optionTerm, usageLine } from "../src/cli/help";
import { allCommands, helpEntry } from "../src/cli/root";
import { envName, fieldByFlag } from "../src/config/fields";
import { renderConfigReference, tableCell, tableCode } from "../src/config/reference";
import { renderReliabilityTable } from "../test/faults/catalog";

export const DOCS_COMMAND = "bun scripts/docs.ts";

const ROOT = join(import.meta.dir, "..");

/** Options with their env names: a goal-state field's, or for a pattern (`--downloads-ARTIFACT-url`) the same pattern's. */
function optionsTable(options: Array<[string, ArgDef]>, env: (flag: string) => string = (flag) => fieldByFlag.get(flag)?.env ?? ""): string[] {
  const rows = options.map(([flag, def]) => {
    const envVar = env(flag);
    const description = (def.description ?? "").replace(` [${envVar}]`, "");
    return `| ${tableCode(optionTerm(flag, def))} | ${tableCode(envVar)} | ${tableCell(description)} |`;
  });
  return ["| option | env | description |", "|---|---|---|", ...rows];
}

/** Every command as its --help lists it: arguments, options with their env names, examples. */
export async function renderCliReference(): Promise<string> {
  const out: string[] = [];
  for (const [name, loaded] of Object.entries(await allCommands())) {
    const entry = helpEntry(name, loaded);
    const { positionals, options, downloads } = helpOptions(entry);
    out.push(`## ${name}`, "", tableCell(entry.description), "", `Usage: \`${usageLine(entry)}\``, "");
    if (positionals.length) out.push("| argument | description |", "|---|---|", ...positionals.map(([term, def]) => `| ${tableCode(term)} | ${tableCell(def.description ?? "")} |`), "");
    out.push(...optionsTable(options));
    if (downloads.length) out.push("", tableCell(DOWNLOADS_NOTE), "", ...optionsTable(downloads, envName));
    if (entry.uses) out.push("", "The other goal-state options ([Configuration](configuration.md)) are accepted and change nothing here.");
    out.push("", "Examples:", "", "```sh", ...entry.examples, "```", "");
  }
  return out.join("\n").trimEnd();
}

/** Each page's generated sections, by marker name. */
const SECTIONS: Record<string, Record<string, () => string | Promise<string>>> = {
  "docs/cli.md": { commands: renderCliReference },
  "docs/configuration.md": { "config-reference": renderConfigReference },
  "docs/reliability.md": { reliability: renderReliabilityTable },
};

/** The generated pages as this would write them, from what they hold now: path → text. */
export async function generatedDocs(): Promise<Record<string, string>> {
  const pages: Record<string, string> = {};
  for (const [page, sections] of Object.entries(SECTIONS)) {
    let text = readFileSync(join(ROOT, page), "utf8");
    for (const [name, render] of Object.entries(sections)) {
      const begin = `<!-- ${name}:begin -->`;
      const end = `<!-- ${name}:end -->`;
      const start = text.indexOf(begin);
      const stop = text.indexOf(end);
      if (start < 0 || stop < start) throw new Error(`${page}: markers ${begin} … ${end} not found`);
      text = text.slice(0, start + begin.length) + "\n" + (await render()) + "\n" + text.slice(stop);
    }
    pages[page] = text;
  }
  return pages;
}

if (import.meta.main) {
  for (const [page, text] of Object.entries(await generatedDocs())) {
    const changed = readFileSync(join(ROOT, page), "utf8") !== text;
    if (changed) writeFileSync(join(ROOT, page), text);
    console.log(`${page}: ${changed ? "updated" : "up to date"}`);
  }
}
