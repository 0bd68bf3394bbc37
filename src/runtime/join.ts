// Join material: the bootstrap kubeconfig a user gives, and the cluster CA inside it that
// kubelet needs to check the API server's client certificates.
import { RunError } from "../errors";

interface Kubeconfig {
  "current-context"?: string;
  contexts?: Array<{ name?: string; context?: { cluster?: string } }>;
  clusters?: Array<{ name?: string; cluster?: { "certificate-authority-data"?: string } }>;
}

/** The PEM of the current context's cluster CA (or the only cluster's). */
export function clusterCAOf(kubeconfig: string, file: string): string {
  const what = `kubelet.bootstrapKubeconfig ${file}`;
  let doc: Kubeconfig;
  try {
    doc = (Bun.YAML.parse(kubeconfig) ?? {}) as Kubeconfig;
  } catch (err) {
    throw new RunError(`${what}: not YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const clusters = Array.isArray(doc.clusters) ? doc.clusters : [];
  const current = doc.contexts?.find((c) => c.name === doc["current-context"])?.context?.cluster;
  const cluster = (clusters.find((c) => c.name === current) ?? (clusters.length === 1 ? clusters[0] : undefined))?.cluster;
  const data = cluster?.["certificate-authority-data"];
  if (!data) throw new RunError(`${what}: no certificate-authority-data for its current cluster (kubelet needs the cluster CA)`);
  const pem = Buffer.from(data, "base64").toString("utf8");
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new RunError(`${what}: certificate-authority-data is not a base64 PEM certificate`);
  return pem;
}
