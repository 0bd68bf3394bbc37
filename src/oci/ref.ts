// Image references: `registry/repo:tag`, `registry/repo@sha256:…`, `oci-layout:DIR[:tag]` and
// `oci-archive:FILE[:tag]`. Pure; a bad reference is a usage error naming what is wrong.
import { ConfigError } from "../errors";
import { DIGEST } from "./media";

export type ImageRef =
  | { kind: "registry"; host: string; repo: string; tag?: string; digest?: string }
  | { kind: "layout"; dir: string; tag?: string }
  | { kind: "archive"; file: string; tag?: string };

export type RegistryRef = Extract<ImageRef, { kind: "registry" }>;

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/;
const DOCKER_HUB = "docker.io";

/** Path and tag split at the first colon, as skopeo does (the path holds none, the tag may). */
function pathAndTag(rest: string, what: string, text: string): { path: string; tag?: string } {
  const i = rest.indexOf(":");
  const path = i < 0 ? rest : rest.slice(0, i);
  const tag = i < 0 ? undefined : rest.slice(i + 1);
  if (!path) throw new ConfigError(`image reference ${text}: no ${what} path`);
  if (tag === "") throw new ConfigError(`image reference ${text}: empty tag after the path`);
  return { path, tag };
}

export function parseImageRef(text: string): ImageRef {
  if (text.startsWith("oci-layout:")) {
    const { path, tag } = pathAndTag(text.slice("oci-layout:".length), "directory", text);
    return { kind: "layout", dir: path, tag };
  }
  if (text.startsWith("oci-archive:")) {
    const { path, tag } = pathAndTag(text.slice("oci-archive:".length), "file", text);
    return { kind: "archive", file: path, tag };
  }
  return parseRegistryRef(text);
}

export function parseRegistryRef(text: string): RegistryRef {
  const bad = (why: string) => new ConfigError(`image reference ${text}: ${why}`);
  let rest = text.replace(/^docker:\/\//, "");
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`digest ${digest} is not sha256: and 64 lowercase hex digits`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`tag ${tag} is not valid`);
  }
  const parts = rest.split("/");
  const first = parts[0]!;
  const hasHost = parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("["));
  const host = hasHost ? first : DOCKER_HUB;
  const path = hasHost ? parts.slice(1) : parts;
  if (!HOST.test(host)) throw bad(`registry host ${host} is not valid`);
  if (!path.length || !path.every((c) => COMPONENT.test(c))) throw bad("repository must be lowercase letters, digits and . _ - separated by /");
  if (host === DOCKER_HUB && path.length === 1) path.unshift("library");
  return { kind: "registry", host, repo: path.join("/"), ...(tag || !digest ? { tag: tag ?? "latest" } : {}), digest };
}

/** The reference in its canonical text form: `host/repo:tag`, `host/repo@digest`. */
export function formatRegistryRef(ref: RegistryRef): string {
  return `${ref.host}/${ref.repo}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** The host the API answers on (Docker Hub's API is not on docker.io itself). */
export const apiHost = (host: string) => (host === DOCKER_HUB ? "registry-1.docker.io" : host);

/** Loopback hosts, which may speak plain HTTP without being listed as insecure. */
export function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}
