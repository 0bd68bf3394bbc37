// A bootstrap kubeconfig as a user gives one: two clusters, the current context's with its CA.
export const CA = "-----BEGIN CERTIFICATE-----\nMIIBdGVzdC1jbHVzdGVyLWNh\n-----END CERTIFICATE-----\n";

export const kubeconfig = (caData = Buffer.from(CA).toString("base64")) =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: other",
    "    cluster: {server: https://other.example:6443}",
    "  - name: prod",
    "    cluster:",
    "      server: https://api.example:6443",
    `      certificate-authority-data: ${caData}`,
    "contexts:",
    "  - name: join",
    "    context: {cluster: prod, user: bootstrap}",
    "current-context: join",
    "users:",
    "  - name: bootstrap",
    "    user: {token: abcdef.0123456789abcdef}",
    "",
  ].join("\n");
