// The sha256 of a file, streamed (never read whole): verify, fetch --check, snapshots and the
// mirror script all hash files this one way.
import { ioError } from "./atomic";

export async function sha256File(file: string): Promise<string> {
  const hash = new Bun.CryptoHasher("sha256");
  try {
    for await (const chunk of Bun.file(file).stream()) hash.update(chunk);
  } catch (err) {
    throw ioError(`read ${file}`, err);
  }
  return hash.digest("hex");
}

/** The one wording of a hash that is not the expected one: `what` names the URL or file. */
export const sha256Mismatch = (what: string, expected: string, actual: string) => `sha256 mismatch for ${what}: expected ${expected}, got ${actual}`;

/** The sha256 of bytes or text in memory, as hex. */
export const sha256Hex = (data: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(data).digest("hex");
