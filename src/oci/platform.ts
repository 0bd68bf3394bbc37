// Which manifest of an image index a machine of this architecture runs.
import type { Arch } from "../host/arch";
import type { Descriptor, Platform } from "./media";

const wanted = (p: Platform | undefined, arch: Arch) =>
  p?.os === "linux" && p.architecture === arch && (arch !== "arm64" || !p.variant || p.variant === "v8");

export function pickPlatform(manifests: Descriptor[], arch: Arch): Descriptor | undefined {
  return manifests.find((d) => wanted(d.platform, arch));
}

export const platformsOf = (manifests: Descriptor[]) =>
  manifests.map((d) => (d.platform ? [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join("/") : "unknown")).join(", ");
