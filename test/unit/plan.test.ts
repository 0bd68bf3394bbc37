// Pure resolution of artifacts: upstream URLs exactly as published, mirrors, per-artifact
// overrides and URL templates; checksum files of each published shape.
import { describe, expect, test } from "bun:test";
import { parseChecksum } from "../../src/artifacts/checksum";
import { CATALOG } from "../../src/artifacts/catalog";
import { planAll, planArtifact } from "../../src/artifacts/plan";
import { testGoal } from "../helpers/goal";

const urls = (g = testGoal()) => Object.fromEntries(planAll(g).map((p) => [p.entry.name, [p.url, p.checksumURL]]));

describe("URLs", () => {
  test("upstream defaults, amd64", () => {
    expect(urls()).toEqual({
      kubelet: ["https://dl.k8s.io/release/v1.33.1/bin/linux/amd64/kubelet", "https://dl.k8s.io/release/v1.33.1/bin/linux/amd64/kubelet.sha256"],
      kubectl: ["https://dl.k8s.io/release/v1.33.1/bin/linux/amd64/kubectl", "https://dl.k8s.io/release/v1.33.1/bin/linux/amd64/kubectl.sha256"],
      kubeProxy: ["https://dl.k8s.io/release/v1.33.1/bin/linux/amd64/kube-proxy", "https://dl.k8s.io/release/v1.33.1/bin/linux/amd64/kube-proxy.sha256"],
      crictl: [
        "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.33.0/crictl-v1.33.0-linux-amd64.tar.gz",
        "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.33.0/crictl-v1.33.0-linux-amd64.tar.gz.sha256",
      ],
      containerd: [
        "https://github.com/containerd/containerd/releases/download/v2.0.4/containerd-2.0.4-linux-amd64.tar.gz",
        "https://github.com/containerd/containerd/releases/download/v2.0.4/containerd-2.0.4-linux-amd64.tar.gz.sha256sum",
      ],
      runc: ["https://github.com/opencontainers/runc/releases/download/v1.1.12/runc.amd64", "https://github.com/opencontainers/runc/releases/download/v1.1.12/runc.sha256sum"],
      cni: [
        "https://github.com/containernetworking/plugins/releases/download/v1.5.1/cni-plugins-linux-amd64-v1.5.1.tgz",
        "https://github.com/containernetworking/plugins/releases/download/v1.5.1/cni-plugins-linux-amd64-v1.5.1.tgz.sha256",
      ],
    });
  });

  test("--mirror sets every base; a per-artifact base, version and template override one", () => {
    const g = testGoal({
      arch: "arm64",
      mirror: "http://m.local:8080/",
      versions: { kubernetes: "1.34.2" },
      downloads: { runc: { version: "1.2.0", baseURL: "file:///srv/runc" }, kubectl: { url: "https://x.example/{version}/{arch}/{binary}-{os}" } },
    });
    const u = urls(g);
    expect(u.kubelet![0]).toBe("http://m.local:8080/kubernetes/v1.34.2/bin/linux/arm64/kubelet");
    expect(u.crictl![0]).toBe("http://m.local:8080/crictl/v1.34.0/crictl-v1.34.0-linux-arm64.tar.gz");
    expect(u.runc).toEqual(["file:///srv/runc/v1.2.0/runc.arm64", "file:///srv/runc/v1.2.0/runc.sha256sum"]);
    expect(u.kubectl).toEqual(["https://x.example/1.34.2/arm64/kubectl-linux", "https://x.example/1.34.2/arm64/kubectl-linux.sha256"]);
    // The cache keeps upstream layout whatever the URL.
    expect(planArtifact(g, CATALOG.kubectl).cacheAsset).toBe("kubernetes/v1.34.2/bin/linux/arm64/kubectl");
  });

  test("an unknown placeholder names the field and the known ones", () => {
    const g = testGoal({ downloads: { cni: { url: "https://x/{vesion}.tgz" } } });
    expect(() => planArtifact(g, CATALOG.cni)).toThrow("downloads.cni.url: unknown placeholder {vesion} in https://x/{vesion}.tgz (known: {version} {arch} {os} {binary})");
  });
});

describe("checksum files", () => {
  const hex = "a".repeat(64);
  const other = "b".repeat(64);
  test("bare hex, with or without the file name", () => {
    expect(parseChecksum(`${hex}`, CATALOG.kubelet, "kubelet", "u")).toBe(hex);
    expect(parseChecksum(`${hex.toUpperCase()}  kubelet\n`, CATALOG.kubelet, "kubelet", "u")).toBe(hex);
  });
  test("sha256sum lines: the line of our asset, binary marker allowed", () => {
    expect(parseChecksum(`${other}  runc.arm64\n${hex} *runc.amd64\n${other}  runc.tar.xz\n`, CATALOG.runc, "runc.amd64", "u")).toBe(hex);
  });
  test("a lone hash is accepted for the one asset its file is named after, even where upstream writes sha256sum lines", () => {
    expect(parseChecksum(`${hex}\n`, CATALOG.containerd, "containerd-2.0.4-linux-amd64.tar.gz", "u")).toBe(hex);
    expect(parseChecksum(hex.toUpperCase(), CATALOG.cni, "cni-plugins-linux-amd64-v1.5.1.tgz", "u")).toBe(hex);
    // runc's one file covers every arch: a lone hash there could be any asset's.
    expect(() => parseChecksum(`${hex}\n`, CATALOG.runc, "runc.amd64", "u")).toThrow("has no sha256 for runc.amd64");
  });
  test("garbage or only other assets' lines are errors naming the file", () => {
    expect(() => parseChecksum("<html>", CATALOG.kubelet, "kubelet", "https://m/kubelet.sha256")).toThrow('checksum file https://m/kubelet.sha256 has no sha256 for kubelet (starts with "<html>")');
    expect(() => parseChecksum(`${other}  runc.arm64\n`, CATALOG.runc, "runc.amd64", "u")).toThrow("has no sha256 for runc.amd64");
    expect(() => parseChecksum(`${hex}  kubectl`, CATALOG.kubelet, "kubelet", "u")).toThrow("has no sha256 for kubelet");
    expect(() => parseChecksum(`${hex}\n${other}\n`, CATALOG.containerd, "containerd-2.0.4-linux-amd64.tar.gz", "u")).toThrow("has no sha256");
  });
});
