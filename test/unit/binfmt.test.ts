// Foreign-arch emulation: what binfmt_misc must hold for arm64 on amd64 (and back), and the fix
// for each way it can fall short.
import { describe, expect, test } from "bun:test";
import { emulationProblem, requireEmulation } from "../../src/rootfs/binfmt";

const DIR = "/proc/sys/fs/binfmt_misc";
const handler = (state: string, flags: string) => `${state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: ${flags}\noffset 0\n`;
const host = (files: Record<string, string>) => (p: string) => files[p];
const mounted = { [`${DIR}/status`]: "enabled\n" };

describe("emulationProblem", () => {
  test("the host's own arch needs nothing, not even binfmt_misc", () => {
    expect(emulationProblem("amd64", "amd64", host({}))).toBeUndefined();
  });

  test("binfmt_misc not mounted: install, mount, enable", () => {
    expect(emulationProblem("arm64", "amd64", host({}))).toEqual({
      problem: `arm64 on an amd64 host needs binfmt_misc, which is not mounted at ${DIR}`,
      fix: `apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc ${DIR}; update-binfmts --enable qemu-aarch64`,
    });
  });

  test("no handler registered: install and enable it", () => {
    expect(emulationProblem("arm64", "amd64", host(mounted))).toEqual({
      problem: "arm64 on an amd64 host needs the qemu-aarch64 binfmt handler, which is not registered",
      fix: "apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64",
    });
  });

  test("a disabled handler: enable it", () => {
    expect(emulationProblem("arm64", "amd64", host({ ...mounted, [`${DIR}/qemu-aarch64`]: handler("disabled", "PF") }))?.fix).toBe("update-binfmts --enable qemu-aarch64");
  });

  test("a handler without F cannot serve inside the machine", () => {
    const p = emulationProblem("arm64", "amd64", host({ ...mounted, [`${DIR}/qemu-aarch64`]: handler("enabled", "OC") }));
    expect(p?.problem).toContain("lacks the F (fix-binary) flag");
  });

  test("an enabled handler with F: no problem; amd64 on arm64 asks for qemu-x86_64", () => {
    expect(emulationProblem("arm64", "amd64", host({ ...mounted, [`${DIR}/qemu-aarch64`]: handler("enabled", "PF") }))).toBeUndefined();
    expect(emulationProblem("amd64", "arm64", host(mounted))?.fix).toContain("update-binfmts --enable qemu-x86_64");
  });

  test("requireEmulation throws the problem and its fix as one line", () => {
    expect(() => requireEmulation("arm64", "amd64", host(mounted))).toThrow(
      "arm64 on an amd64 host needs the qemu-aarch64 binfmt handler, which is not registered (fix: apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64)",
    );
  });
});
