// docs/configuration.md's field table, rendered from the schema's fields (a test keeps the page
// in step with it).
import { FIELDS } from "./fields";

const show = (v: unknown) => (v === undefined ? "" : Array.isArray(v) ? v.join(",") : String(v));

export function renderConfigReference(): string {
  const rows = FIELDS.map((f) => {
    const type = f.values ? f.values.join("\\|") : f.kind;
    const def = show(f.default);
    return `| \`${f.key}\` | \`--${f.flag}\` | \`${f.env}\` | ${type} | ${def ? `\`${def}\`` : ""} | ${f.description.replace(/\|/g, "\\|")} |`;
  });
  return ["| field | flag | env | type | default | meaning |", "|---|---|---|---|---|---|", ...rows].join("\n");
}
