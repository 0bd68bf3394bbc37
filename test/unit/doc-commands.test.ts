// The docs a user reads: every `kube-rootfs …` line in a fenced block of README.md and docs/*.md
// is one the CLI would take (known command, known flags, arguments it parses); README.md stays
// a front door with the two commands and a link to every page; every link lands on a page and heading.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { cliProblems, commandLines } from "../helpers/commands";

const ROOT = join(import.meta.dir, "..", "..");
const PAGES = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const read = (page: string) => readFileSync(join(ROOT, page), "utf8");

describe("documented commands", () => {
  test("every fenced kube-rootfs line of README.md and docs/*.md parses as the CLI would", async () => {
    const lines = PAGES.flatMap((page) => commandLines(read(page)).map((line) => ({ page, line })));
    expect(lines.length).toBeGreaterThan(80);
    const problems = await Promise.all(lines.map(async ({ page, line }) => (await cliProblems([line])).map((p) => `${page}: ${p}`)));
    expect(problems.flat()).toEqual([]);
  });

  test("the lines are found wherever a shell would run them", () => {
    const md = [
      "```sh",
      "sudo ./dist/kube-rootfs-linux-x64 provision --dry-run",
      "kube-rootfs fetch --bundle /srv/b \\",
      "  --images a/b:1",
      "kube-rootfs upgrade --kubernetes-version 1.34.0 && kube-rootfs status   # a comment --not-a-flag",
      "diff <(kube-rootfs render --containerd-version 1.7.27) <(kube-rootfs render)",
      "grep x /var/log/kube-rootfs.log",
      "```",
      "```yaml",
      'runcmd: [sh, -c, "kube-rootfs provision --log-format json >> /var/log/k.log 2>&1"]',
      "```",
      "kube-rootfs verify --outside-a-fence",
    ].join("\n");
    expect(commandLines(md)).toEqual([
      "provision --dry-run",
      "fetch --bundle /srv/b --images a/b:1",
      "upgrade --kubernetes-version 1.34.0",
      "status",
      "render --containerd-version 1.7.27",
      "render",
      "provision --log-format json",
    ]);
  });

  test("what the CLI refuses is reported: a misspelt flag, an unknown command, a switch with a separate value", async () => {
    expect(await cliProblems(["provision --machin kube1", "provison --dry-run", "provision --offline false", "image push r/x:1 --dry-run", "help nothing"])).toEqual([
      "provision --machin kube1: --machin: unknown flag, did you mean --machine? (see --help)",
      "provison --dry-run: no command provison",
      "provision --offline false: --offline false: a switch takes no separate value; write --offline=false or --no-offline",
      "help nothing: no command nothing",
    ]);
  });
});

describe("README.md is the front door", () => {
  const readme = read("README.md");

  test("at most 250 lines, with the two commands", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(250);
    expect(readme).toContain("\nbash scripts/setup.sh && npm run build && ./dist/kube-rootfs-linux-x64 provision --dry-run\n");
    expect(readme).toContain("\nbash scripts/setup.sh && npm run --silent typecheck && npm test --silent\n");
  });

  test("links every page of docs/", () => {
    expect(PAGES.filter((p) => p !== "README.md" && !readme.includes(`](${p})`))).toEqual([]);
  });
});

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to dashes. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

test("every relative link lands on a file, and every #anchor on a heading of its page", () => {
  const anchors = (page: string) => new Set([...read(page).matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]!)));
  const broken = PAGES.flatMap((page) =>
    [...read(page).matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1]!)
      .filter((href) => !/^[a-z]+:/.test(href))
      .filter((href) => {
        const [path, hash] = href.split("#");
        const target = path ? normalize(join(dirname(page), path)) : page;
        try {
          if (!readdirSync(join(ROOT, dirname(target))).includes(target.split("/").pop()!)) return true;
        } catch {
          return true;
        }
        return hash !== undefined && !anchors(target).has(hash);
      })
      .map((href) => `${page}: ${href}`),
  );
  expect(broken).toEqual([]);
});
