/** PEM armour (RFC 7468) for the development PKI: Node-only helpers. */

export class PemError extends Error {
  override name = "PemError";
}

export function pemEncode(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Every PEM block in `text`, in order. */
export function pemDecodeAll(text: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const body = match[2]!.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new PemError(`PEM block ${match[1]} is not base64`);
    out.push({ label: match[1]!, der: new Uint8Array(Buffer.from(body, "base64")) });
  }
  return out;
}

/** DER of a file that is either PEM (all blocks concatenated, e.g. a chain) or already binary. */
export function derFromPemOrDer(contents: Uint8Array): Uint8Array {
  const text = Buffer.from(contents).toString("latin1");
  if (!text.includes("-----BEGIN ")) return contents;
  const blocks = pemDecodeAll(text);
  if (blocks.length === 0) throw new PemError("PEM armour without a complete block");
  return new Uint8Array(Buffer.concat(blocks.map((b) => b.der)));
}
