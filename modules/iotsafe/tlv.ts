/**
 * The applet's TLVs: one-byte tags; lengths are one byte (0–255) throughout IoT SAFE, but a BER
 * applet may send `81 xx` / `82 xx xx`. `parseTlvs` reads the simple form and, when that does not
 * account for the input exactly, the BER form. Every read is bounds-checked; errors are TlvError.
 */
import { concatBytes, toHex } from "../bytes/bytes.js";
import { TlvError } from "./errors.js";

export interface Tlv {
  tag: number;
  /** A view into the parsed input. */
  value: Uint8Array;
}

export type LengthForm = "simple" | "ber";

/** Most TLVs accepted in one list: far above any real answer, low enough to bound work. */
const MAX_ITEMS = 512;

function hexByte(b: number): string {
  return toHex(Uint8Array.of(b)).toUpperCase();
}

function parseWith(bytes: Uint8Array, form: LengthForm, what: string): Tlv[] {
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (out.length >= MAX_ITEMS) throw new TlvError(`${what}: more than ${MAX_ITEMS} TLVs`);
    const start = pos;
    const tag = bytes[pos++]!;
    if (pos >= bytes.length) throw new TlvError(`${what}: tag ${hexByte(tag)} at offset ${start} has no length`);
    let length = bytes[pos++]!;
    if (form === "ber" && length >= 0x80) {
      const octets = length & 0x7f;
      if (octets < 1 || octets > 2) throw new TlvError(`${what}: tag ${hexByte(tag)} at offset ${start} has an unsupported length form ${hexByte(length)}`);
      if (pos + octets > bytes.length) throw new TlvError(`${what}: truncated length of tag ${hexByte(tag)} at offset ${start}`);
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + bytes[pos++]!;
      if (length < (octets === 1 ? 0x80 : 0x100)) throw new TlvError(`${what}: non-minimal length of tag ${hexByte(tag)} at offset ${start}`);
    }
    if (pos + length > bytes.length) {
      throw new TlvError(`${what}: tag ${hexByte(tag)} at offset ${start} declares ${length} bytes but ${bytes.length - pos} remain`);
    }
    out.push({ tag, value: bytes.subarray(pos, pos + length) });
    pos += length;
  }
  return out;
}

/** Parses a sequence of TLVs filling `bytes` exactly. `what` names the structure in errors. */
export function parseTlvs(bytes: Uint8Array, what: string, form?: LengthForm): Tlv[] {
  if (form) return parseWith(bytes, form, what);
  try {
    return parseWith(bytes, "simple", what);
  } catch (simpleError) {
    try {
      return parseWith(bytes, "ber", what);
    } catch {
      throw simpleError;
    }
  }
}

export function findTlv(tlvs: readonly Tlv[], tag: number): Tlv | undefined {
  for (const t of tlvs) if (t.tag === tag) return t;
  return undefined;
}

/** A TLV in the IoT SAFE command form: one-byte tag, one-byte length (0–255). */
export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff) throw new TlvError(`tag ${tag} is not one byte`);
  if (value.length > 255) throw new TlvError(`value of ${value.length} bytes for tag ${hexByte(tag)} exceeds a one-byte length`);
  return concatBytes(Uint8Array.of(tag, value.length), value);
}

/** Unsigned big-endian value of 1..4 bytes. */
export function tlvUint(tlv: Tlv, what: string): number {
  if (tlv.value.length < 1 || tlv.value.length > 4) throw new TlvError(`${what}: tag ${hexByte(tlv.tag)} has ${tlv.value.length} bytes, expected 1..4`);
  let n = 0;
  for (const b of tlv.value) n = n * 256 + b;
  return n;
}
