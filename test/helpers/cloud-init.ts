// examples/cloud-init.yaml, parsed: its install script (what runcmd runs) and its node.yaml.
import { readFileSync } from "node:fs";
import { join } from "node:path";

interface CloudConfig {
  package_update?: boolean;
  packages: string[];
  write_files: Array<{ path: string; content: string }>;
  runcmd: string[][];
}

export function cloudInitExample() {
  const text = readFileSync(join(import.meta.dir, "..", "..", "examples", "cloud-init.yaml"), "utf8");
  const doc = Bun.YAML.parse(text) as CloudConfig;
  const file = (path: string) => {
    const f = doc.write_files.find((w) => w.path === path);
    if (!f) throw new Error(`examples/cloud-init.yaml writes no ${path}`);
    return f.content;
  };
  return { text, doc, script: file(doc.runcmd[0]![0]!), nodeYaml: file("/etc/kube-rootfs/node.yaml") };
}

/** The script with the values of variables it assigns at the top replaced (each must be there). */
export function withVariables(script: string, values: Record<string, string>): string {
  let out = script;
  for (const [name, value] of Object.entries(values)) {
    const line = new RegExp(`^${name}=.*$`, "m");
    if (!line.test(out)) throw new Error(`the install script sets no ${name}`);
    out = out.replace(line, `${name}='${value.replace(/'/g, `'\\''`)}'`);
  }
  return out;
}
