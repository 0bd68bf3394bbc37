// JSON with keys sorted at every level: files that diff well and are byte-identical for the
// same content (the install manifest, the bundle lock).
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted((value as Record<string, unknown>)[k])]));
  }
  return value;
}

export const stableJSON = (value: unknown) => JSON.stringify(sorted(value), null, 2) + "\n";
