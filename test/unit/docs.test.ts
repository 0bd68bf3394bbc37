// The generated docs are what scripts/docs.ts writes from the code today: docs/cli.md from the
// commands' definitions, docs/configuration.md from the schema, docs/reliability.md from the fault
// catalogue. So no option exists undocumented and no documented option is gone.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DOCS_COMMAND, generatedDocs } from "../../scripts/docs";
import { helpOptions } from "../../src/cli/help";
import { allCommands, helpEntry } from "../../src/cli/root";
import { FIELDS } from "../../src/config/fields";

const ROOT = join(import.meta.dir, "..", "..");
const read = (page: string) => readFileSync(join(ROOT, page), "utf8");

test(`docs/cli.md, docs/configuration.md and docs/reliability.md are up to date (${DOCS_COMMAND})`, async () => {
  const stale = Object.entries(await generatedDocs())
    .filter(([page, text]) => read(page) !== text)
    .map(([page]) => `${page} is out of date: run ${DOCS_COMMAND}`);
  expect(stale).toEqual([]);
});

/** The `## name` section of docs/cli.md. */
const section = (cli: string, name: string) => {
  const start = cli.indexOf(`\n## ${name}\n`);
  return start < 0 ? "" : cli.slice(start, cli.indexOf("\n## ", start + 1) >>> 0);
};

test("every option of every command is in its docs/cli.md section, or is a goal-state option it ignores", async () => {
  const cli = read("docs/cli.md");
  const configuration = read("docs/configuration.md");
  const missing: string[] = [];
  for (const [name, loaded] of Object.entries(await allCommands())) {
    const text = section(cli, name);
    const { options, downloads } = helpOptions(helpEntry(name, loaded));
    const listed = new Set(options.map(([flag]) => flag));
    const pattern = (flag: string) => flag.replace(/^downloads-(kubelet|kubectl|kube-proxy|crictl|containerd|runc|cni)-/, "downloads-ARTIFACT-");
    const patterns = new Set(downloads.map(([flag]) => flag));
    for (const [flag, def] of Object.entries(loaded.cmd.args ?? {})) {
      if (def.type === "positional") continue;
      const documented = listed.has(flag)
        ? text.includes(`| \`--${flag}`)
        : patterns.has(pattern(flag))
          ? text.includes(`| \`--${pattern(flag)}`)
          : text.includes("other goal-state options") && configuration.includes(`\`--${flag}\``);
      if (!documented) missing.push(`${name} --${flag}`);
    }
  }
  expect(missing).toEqual([]);
});

test("every goal-state field is in docs/configuration.md with its flag and env name", () => {
  const configuration = read("docs/configuration.md");
  expect(FIELDS.filter((f) => !configuration.includes(`| \`${f.key}\` | \`--${f.flag}\` | \`${f.env}\` |`)).map((f) => f.key)).toEqual([]);
});
