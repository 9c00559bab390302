/**
 * ECDSA signature forms between the applet and the host (iotsafe.md §2.2). The applet answers
 * COMPUTE SIGNATURE with tag 33 holding raw r‖s, with a two-byte length (`33 00 40 …`, ZARIOT,
 * wolfSSL default) or a one-byte one (`33 40 …`, one Thales applet); some applets put a DER
 * `Ecdsa-Sig-Value` in it, or answer the DER value bare. All are accepted; TLS gets DER.
 */
import { concatBytes } from "../bytes/bytes.js";
import { DerError, ecdsaDerToRaw, ecdsaRawToDer } from "../crypto/der.js";
import { TlvError } from "./errors.js";

/** How the applet framed tag 33: remembered so VERIFY UPDATE can send the same form. */
export type SignatureLengthForm = "two-byte" | "one-byte";

export interface EcdsaSignature {
  /** r‖s, each left-padded to the scalar length (64 bytes for P-256). */
  raw: Uint8Array;
  /** DER `Ecdsa-Sig-Value` (what TLS CertificateVerify and X.509 carry). */
  der: Uint8Array;
  /** The tag-33 length form of the answer, when it had one. */
  lengthForm?: SignatureLengthForm;
}

const TAG_SIGNATURE = 0x33;
const MAX_SCALAR = 66;

/** The signature in a value: DER if it parses strictly as one, raw r‖s of the expected size otherwise. */
function signatureFromValue(value: Uint8Array, scalarLength: number): { raw: Uint8Array; der: Uint8Array } | undefined {
  if (value[0] === 0x30) {
    try {
      const raw = ecdsaDerToRaw(value, scalarLength);
      return { raw, der: ecdsaRawToDer(raw) };
    } catch (error) {
      if (!(error instanceof DerError)) throw error;
    }
  }
  if (value.length === 2 * scalarLength) {
    const raw = value.slice();
    return { raw, der: ecdsaRawToDer(raw) };
  }
  return undefined;
}

/**
 * Parses the data of the last COMPUTE SIGNATURE UPDATE. `scalarLength` is the key's (32 for P-256).
 * Throws TlvError when no reading of the bytes gives a signature of that size.
 */
export function parseSignatureResponse(data: Uint8Array, scalarLength = 32): EcdsaSignature {
  if (!Number.isInteger(scalarLength) || scalarLength < 1 || scalarLength > MAX_SCALAR) throw new TlvError(`bad scalar length ${scalarLength}`);
  const n = data.length;
  if (n >= 2 && data[0] === TAG_SIGNATURE) {
    // Candidate framings, each consistent with the total length; the first whose value is a signature wins.
    const candidates: { offset: number; length: number; form?: SignatureLengthForm }[] = [];
    if (2 + data[1]! === n) candidates.push({ offset: 2, length: data[1]!, form: "one-byte" });
    if (n >= 3 && 3 + data[1]! * 256 + data[2]! === n) candidates.push({ offset: 3, length: data[1]! * 256 + data[2]!, form: "two-byte" });
    if (n >= 3 && data[1] === 0x81 && 3 + data[2]! === n) candidates.push({ offset: 3, length: data[2]! });
    if (n >= 4 && data[1] === 0x82 && 4 + data[2]! * 256 + data[3]! === n) candidates.push({ offset: 4, length: data[2]! * 256 + data[3]! });
    for (const c of candidates) {
      const found = signatureFromValue(data.subarray(c.offset, c.offset + c.length), scalarLength);
      if (found) return c.form ? { ...found, lengthForm: c.form } : found;
    }
  }
  if (n >= 2 && data[0] === 0x30) {
    const found = signatureFromValue(data, scalarLength);
    if (found) return found;
  }
  throw new TlvError(`signature response of ${n} bytes is neither tag 33 with r‖s or DER for ${scalarLength}-byte scalars, nor a DER signature`);
}

/** Tag 33 with raw r‖s for VERIFY SIGNATURE UPDATE, in the applet's length form. */
export function encodeSignatureTlv(raw: Uint8Array, form: SignatureLengthForm = "two-byte"): Uint8Array {
  if (form === "one-byte") {
    if (raw.length > 255) throw new TlvError(`signature of ${raw.length} bytes cannot take a one-byte length`);
    return concatBytes(Uint8Array.of(TAG_SIGNATURE, raw.length), raw);
  }
  if (raw.length > 0xffff) throw new TlvError(`signature of ${raw.length} bytes is too long`);
  return concatBytes(Uint8Array.of(TAG_SIGNATURE, raw.length >> 8, raw.length & 0xff), raw);
}

/** Raw r‖s from either form the caller may hold (DER from TLS/X.509, or raw 2×scalar bytes). */
export function toRawSignature(signature: Uint8Array, scalarLength = 32): Uint8Array {
  const found = signatureFromValue(signature, scalarLength);
  if (!found) throw new TlvError(`signature of ${signature.length} bytes is neither DER nor raw r‖s of ${2 * scalarLength} bytes`);
  return found.raw;
}
