// configure-os: the small files a Kubernetes node needs inside the rootfs.
import type { Resolved } from "../config/resolve";
import type { Task } from "../engine/task";
import { FILE_MODE } from "../fs/atomic";
import type { FileSpec } from "../fs/spec";
import { Target } from "../fs/target";
import { aptSources, defaultComponents } from "../config/distro";
import { renderHostname, renderKmsgConf, renderModulesLoad, renderSourcesList } from "./templates/os";

export const CONFIGURE_OS = "configure-os";

export function osFiles(goal: Resolved): FileSpec[] {
  const { suite, mirror, components } = goal.bootstrap;
  const file = (name: string, path: string, content: string): FileSpec => ({ name, path, content, mode: FILE_MODE });
  return [
    file("kmsg", "etc/tmpfiles.d/kmsg.conf", renderKmsgConf()),
    file("modules-load", "etc/modules-load.d/kubernetes.conf", renderModulesLoad()),
    file("apt-sources", "etc/apt/sources.list", renderSourcesList(aptSources(suite, goal.arch, mirror, components ?? defaultComponents(suite)))),
    file("hostname", "etc/hostname", renderHostname(goal.hostname)),
  ];
}

export function configureOsTask(goal: Resolved): Task {
  return {
    name: CONFIGURE_OS,
    async run(ctx) {
      const root = new Target(goal.machineDir, ctx);
      const results = await Promise.all(osFiles(goal).map((f) => root.writeFile(f.path, f.content, f.mode)));
      return results.includes("written") ? "completed" : "skipped";
    },
  };
}
