/**
 * The public-key template: `34 45 [49 43 [86 41 04‖X‖Y]]` for P-256 (READ PUBLIC KEY, GENERATE
 * KEY PAIR, PUT PUBLIC KEY UPDATE). Parsed by tag; lengths follow the point size.
 */
import { encodeTlv, findTlv, parseTlvs } from "./tlv.js";
import { TlvError } from "./errors.js";

const TAG_PUBLIC_KEY_DATA = 0x34;
const TAG_ECC_PUBLIC_KEY = 0x49;
const TAG_EC_POINT = 0x86;

/** Checks an uncompressed SEC1 point 04‖X‖Y of a supported size (P-256: 65 bytes; up to P-521). */
export function checkUncompressedPoint(point: Uint8Array, what = "EC point"): void {
  if (point.length < 3 || point.length % 2 === 0 || point.length > 133 || point[0] !== 0x04) {
    throw new TlvError(`${what}: expected an uncompressed point 04‖X‖Y, got ${point.length} bytes starting ${point[0]?.toString(16) ?? "(none)"}`);
  }
}

/** The point in a public-key template; `tlvs` are the top-level TLVs of the answer (34 or bare 49 accepted). */
export function findPublicKeyPoint(tlvs: ReturnType<typeof parseTlvs>, what: string): Uint8Array | undefined {
  let ecc = findTlv(tlvs, TAG_ECC_PUBLIC_KEY);
  const wrapper = findTlv(tlvs, TAG_PUBLIC_KEY_DATA);
  if (wrapper) {
    const inner = parseTlvs(wrapper.value, what);
    ecc = findTlv(inner, TAG_ECC_PUBLIC_KEY);
    if (!ecc) throw new TlvError(`${what}: tag 34 holds no ECC public key (tag 49)`);
  }
  if (!ecc) return undefined;
  const point = findTlv(parseTlvs(ecc.value, what), TAG_EC_POINT);
  if (!point) throw new TlvError(`${what}: tag 49 holds no EC point (tag 86)`);
  checkUncompressedPoint(point.value, what);
  return point.value.slice();
}

/** Parses a READ PUBLIC KEY answer into the uncompressed point. */
export function parsePublicKeyTemplate(data: Uint8Array): Uint8Array {
  const what = "public key";
  const point = findPublicKeyPoint(parseTlvs(data, what), what);
  if (!point) throw new TlvError(`${what}: no public key template (tag 34 or 49) in ${data.length} bytes`);
  return point;
}

/** `34 L 49 L 86 L 04‖X‖Y` for PUT PUBLIC KEY UPDATE. */
export function encodePublicKeyTemplate(point: Uint8Array): Uint8Array {
  checkUncompressedPoint(point, "public key to put");
  return encodeTlv(TAG_PUBLIC_KEY_DATA, encodeTlv(TAG_ECC_PUBLIC_KEY, encodeTlv(TAG_EC_POINT, point)));
}
