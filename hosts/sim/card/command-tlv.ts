/**
 * The virtual applet's reader for IoT SAFE command data: a flat list of single-byte-tag TLVs.
 * It accepts the length forms clients really send (iotsafe.md §2.1, §2.2, §9.5):
 *   - one length byte (< 0x80) or BER 81/82/83 forms;
 *   - tag 33 (signature) also with a fixed two-byte length (`33 00 40`);
 *   - tag 9B (full text) also with a fixed three-byte length (Orange issue #1).
 * The fixed forms are taken only when they make the TLV end exactly at the end of the data,
 * which is where those tags sit. Everything is bounds-checked: bad input gives TlvFormatError.
 */

export class TlvFormatError extends Error {
  override name = "TlvFormatError";
}

export interface CommandTlv {
  tag: number;
  value: Uint8Array;
}

/** Tag → its fixed-width length form, used only when the BER reading does not fit. */
const FIXED_LENGTH_FORMS: Record<number, number> = { 0x33: 2, 0x9b: 3 };

/** At most this many TLVs in one command (a short APDU carries ≤ 255 bytes, so 127 is the real limit). */
const MAX_TLVS = 128;

function berLength(data: Uint8Array, pos: number): { length: number; next: number } | undefined {
  const first = data[pos];
  if (first === undefined) return undefined;
  if (first < 0x80) return { length: first, next: pos + 1 };
  const octets = first & 0x7f;
  if (octets < 1 || octets > 3 || pos + 1 + octets > data.length) return undefined;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + data[pos + 1 + i]!;
  return { length, next: pos + 1 + octets };
}

function fixedLength(data: Uint8Array, pos: number, width: number): { length: number; next: number } | undefined {
  if (pos + width > data.length) return undefined;
  let length = 0;
  for (let i = 0; i < width; i++) length = length * 256 + data[pos + i]!;
  return { length, next: pos + width };
}

/** Splits command data into TLVs. Throws TlvFormatError on a truncated or overlong TLV. */
export function parseCommandTlvs(data: Uint8Array): CommandTlv[] {
  const out: CommandTlv[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (out.length >= MAX_TLVS) throw new TlvFormatError("too many TLVs");
    const tag = data[pos]!;
    const lengthAt = pos + 1;
    if (lengthAt >= data.length) throw new TlvFormatError(`tag ${hex2(tag)} at offset ${pos} has no length`);
    const ber = berLength(data, lengthAt);
    const berEndsExactly = ber !== undefined && ber.next + ber.length === data.length;
    let chosen = ber;
    const width = FIXED_LENGTH_FORMS[tag];
    if (width !== undefined && !berEndsExactly) {
      const fixed = fixedLength(data, lengthAt, width);
      if (fixed !== undefined && fixed.next + fixed.length === data.length) chosen = fixed;
    }
    if (chosen === undefined) throw new TlvFormatError(`bad length field for tag ${hex2(tag)} at offset ${lengthAt}`);
    const end = chosen.next + chosen.length;
    if (end > data.length) {
      throw new TlvFormatError(`tag ${hex2(tag)} declares ${chosen.length} bytes but only ${data.length - chosen.next} remain`);
    }
    out.push({ tag, value: data.subarray(chosen.next, end) });
    pos = end;
  }
  return out;
}

/** TLVs by tag; a repeated tag is an error (no IoT SAFE command repeats one). */
export class TlvSet {
  readonly #byTag = new Map<number, Uint8Array>();

  constructor(tlvs: CommandTlv[]) {
    for (const { tag, value } of tlvs) {
      if (this.#byTag.has(tag)) throw new TlvFormatError(`tag ${hex2(tag)} appears twice`);
      this.#byTag.set(tag, value);
    }
  }

  static parse(data: Uint8Array): TlvSet {
    return new TlvSet(parseCommandTlvs(data));
  }

  get(tag: number): Uint8Array | undefined {
    return this.#byTag.get(tag);
  }

  has(tag: number): boolean {
    return this.#byTag.has(tag);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0").toUpperCase();
}
