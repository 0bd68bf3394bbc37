// docs/configuration.md's field table, rendered from the schema's fields (scripts/docs.ts writes
// it; a test keeps the page in step with it).
import { FIELDS } from "./fields";

const show = (v: unknown) => (v === undefined ? "" : Array.isArray(v) ? v.join(",") : String(v));

/** Text for a markdown table cell: a `|` would end the cell, a `<name>` would be read as HTML. */
export const tableCell = (text: string) => text.replace(/\|/g, "\\|").replace(/</g, "&lt;");

/** Code in a markdown table cell (a `|` still ends the cell inside backticks). */
export const tableCode = (text: string) => (text ? `\`${text.replace(/\|/g, "\\|")}\`` : "");

export function renderConfigReference(): string {
  const rows = FIELDS.map((f) => {
    const type = f.values ? f.values.join("\\|") : f.kind;
    return `| ${tableCode(f.key)} | ${tableCode(`--${f.flag}`)} | ${tableCode(f.env)} | ${type} | ${tableCode(show(f.default))} | ${tableCell(f.description)} |`;
  });
  return ["| field | flag | env | type | default | meaning |", "|---|---|---|---|---|---|", ...rows].join("\n");
}
