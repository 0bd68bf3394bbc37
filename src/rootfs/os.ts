// configure-os: the small files a Kubernetes node needs inside the rootfs.
import type { Resolved } from "../config/resolve";
import type { Task } from "../engine/task";
import { Target } from "../fs/target";
import { aptSources, defaultComponents } from "../config/distro";
import { renderHostname, renderKmsgConf, renderModulesLoad, renderSourcesList } from "./templates/os";

export function osFiles(goal: Resolved): Array<[path: string, content: string]> {
  const { suite, mirror, components } = goal.bootstrap;
  return [
    ["etc/tmpfiles.d/kmsg.conf", renderKmsgConf()],
    ["etc/modules-load.d/kubernetes.conf", renderModulesLoad()],
    ["etc/apt/sources.list", renderSourcesList(aptSources(suite, goal.arch, mirror, components ?? defaultComponents(suite)))],
    ["etc/hostname", renderHostname(goal.hostname)],
  ];
}

export function configureOsTask(goal: Resolved): Task {
  return {
    name: "configure-os",
    async run(ctx) {
      const root = new Target(goal.machineDir, ctx);
      const results = await Promise.all(osFiles(goal).map(([path, content]) => root.writeFile(path, content)));
      return results.includes("written") ? "completed" : "skipped";
    },
  };
}
