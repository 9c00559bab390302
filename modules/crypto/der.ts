/**
 * DER (ASN.1 distinguished encoding) reading and writing, small and bounded for the device.
 * The reader works on views into the input (no copies) and checks every length against what is
 * left, so hostile input yields DerError, never an out-of-bounds read or an unbounded loop.
 * Only definite lengths and single-byte tags up to 30 plus the high-tag form are accepted, as DER requires.
 */
import { bytesToAscii, concatBytes, toHex } from "../bytes/bytes.js";

export class DerError extends Error {
  override name = "DerError";
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One decoded element: `tag` is the identifier byte(s) as a number, `value` a view of the content. */
export interface DerElement {
  tag: number;
  /** The content octets (a view into the input). */
  value: Uint8Array;
  /** The whole element, header included (a view into the input). */
  raw: Uint8Array;
}

/** Nesting depth beyond which input is refused (certificates need about 10). */
const MAX_DEPTH = 32;

/** Reads the element at `offset`; returns it and the offset just past it. */
export function readElement(input: Uint8Array, offset = 0): { element: DerElement; next: number } {
  let pos = offset;
  const need = (n: number, what: string) => {
    if (pos + n > input.length) throw new DerError(`truncated ${what} at offset ${pos} (need ${n} bytes, have ${input.length - pos})`);
  };
  need(1, "tag");
  let tag = input[pos++]!;
  if ((tag & 0x1f) === 0x1f) {
    // High tag number form: base-128 continuation bytes, bounded to 3.
    let count = 0;
    for (;;) {
      need(1, "tag");
      const b = input[pos++]!;
      // X.690 §8.1.2.4.2: no leading 0x80 octet, and numbers below 31 must use the low form.
      if (count === 0 && (b === 0x80 || b < 0x1f)) throw new DerError(`non-minimal high tag number at offset ${offset}`);
      tag = tag * 256 + b;
      if ((b & 0x80) === 0) break;
      if (++count >= 3) throw new DerError(`tag too long at offset ${offset}`);
    }
  }
  need(1, "length");
  const first = input[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else if (first === 0x80) {
    throw new DerError(`indefinite length at offset ${offset} is not DER`);
  } else {
    const octets = first & 0x7f;
    if (octets > 4) throw new DerError(`length of ${octets} octets at offset ${offset} is too large`);
    need(octets, "length");
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + input[pos++]!;
    if (length < 0x80 || (octets > 1 && length < 2 ** (8 * (octets - 1)))) {
      throw new DerError(`non-minimal length encoding at offset ${offset}`);
    }
  }
  if (pos + length > input.length) {
    throw new DerError(`element at offset ${offset} declares ${length} content bytes but only ${input.length - pos} remain`);
  }
  const value = input.subarray(pos, pos + length);
  return { element: { tag, value, raw: input.subarray(offset, pos + length) }, next: pos + length };
}

/** Decodes exactly one element filling `input` (trailing bytes are an error). */
export function decodeOne(input: Uint8Array, expectedTag?: number): DerElement {
  const { element, next } = readElement(input, 0);
  if (next !== input.length) throw new DerError(`${input.length - next} trailing bytes after the DER element`);
  if (expectedTag !== undefined) expectTag(element, expectedTag);
  return element;
}

/** The child elements of a constructed element (SEQUENCE, SET, context tags). */
export function children(parent: DerElement, depth = 0): DerElement[] {
  if (depth > MAX_DEPTH) throw new DerError("DER nesting too deep");
  const out: DerElement[] = [];
  let offset = 0;
  const body = parent.value;
  while (offset < body.length) {
    const { element, next } = readElement(body, offset);
    out.push(element);
    offset = next;
  }
  return out;
}

export function tagName(tag: number): string {
  for (const [name, value] of Object.entries(TAG)) if (value === tag) return name;
  if ((tag & 0xc0) === 0x80) return `[${tag & 0x1f}]`;
  return `tag 0x${tag.toString(16)}`;
}

export function expectTag(element: DerElement, tag: number, what = "element"): DerElement {
  if (element.tag !== tag) throw new DerError(`${what}: expected ${tagName(tag)}, found ${tagName(element.tag)}`);
  return element;
}

/** A cursor over a constructed element's children, for reading structures field by field. */
export class DerReader {
  #items: DerElement[];
  #index = 0;
  constructor(parent: DerElement, readonly what: string) {
    this.#items = children(parent);
  }
  get done(): boolean {
    return this.#index >= this.#items.length;
  }
  /** The next child, which must carry `tag` (any tag when omitted). */
  next(tag?: number, field = "field"): DerElement {
    const item = this.#items[this.#index];
    if (!item) throw new DerError(`${this.what}: missing ${field}`);
    if (tag !== undefined) expectTag(item, tag, `${this.what} ${field}`);
    this.#index++;
    return item;
  }
  /** The next child if it carries `tag`, else undefined (for OPTIONAL and DEFAULT fields). */
  optional(tag: number): DerElement | undefined {
    const item = this.#items[this.#index];
    if (item && item.tag === tag) {
      this.#index++;
      return item;
    }
    return undefined;
  }
  end(): void {
    if (!this.done) throw new DerError(`${this.what}: unexpected ${tagName(this.#items[this.#index]!.tag)} after the last field`);
  }
}

/** Dotted text of an OBJECT IDENTIFIER's content octets. */
export function decodeOid(value: Uint8Array): string {
  if (value.length === 0 || value.length > 64) throw new DerError(`OID of ${value.length} bytes`);
  const arcs: number[] = [];
  let arc = 0;
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    if (arc === 0 && b === 0x80) throw new DerError("non-minimal OID arc");
    arc = arc * 128 + (b & 0x7f);
    if (arc > Number.MAX_SAFE_INTEGER / 256) throw new DerError("OID arc too large");
    if ((b & 0x80) === 0) {
      arcs.push(arc);
      arc = 0;
    } else if (i === value.length - 1) {
      throw new DerError("truncated OID arc");
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

/** Unsigned big-endian magnitude of a non-negative INTEGER (leading zero octet removed). */
export function decodeUnsignedInteger(value: Uint8Array): Uint8Array {
  if (value.length === 0) throw new DerError("empty INTEGER");
  if (value[0]! & 0x80) throw new DerError("negative INTEGER where a non-negative one is required");
  if (value.length > 1 && value[0] === 0 && (value[1]! & 0x80) === 0) throw new DerError("non-minimal INTEGER");
  return value[0] === 0 && value.length > 1 ? value.subarray(1) : value;
}

/** Small non-negative INTEGER as a number (versions, path lengths). */
export function decodeSmallInteger(value: Uint8Array): number {
  const magnitude = decodeUnsignedInteger(value);
  if (magnitude.length > 6) throw new DerError("INTEGER too large for a number");
  let n = 0;
  for (const b of magnitude) n = n * 256 + b;
  return n;
}

/** The bits of a BIT STRING with no unused bits (keys, signatures). */
export function decodeBitStringBytes(value: Uint8Array): Uint8Array {
  if (value.length === 0) throw new DerError("empty BIT STRING");
  if (value[0] !== 0) throw new DerError(`BIT STRING with ${value[0]} unused bits where whole bytes are required`);
  return value.subarray(1);
}

/** Text of a string type (UTF8String, PrintableString, IA5String...). */
export function decodeString(element: DerElement): string {
  return bytesToAscii(element.value);
}

/** UTCTime or GeneralizedTime (the Z forms RFC 5280 allows) as epoch milliseconds. */
export function decodeTime(element: DerElement): number {
  const text = bytesToAscii(element.value);
  let match: RegExpExecArray | null;
  let year: number;
  if (element.tag === TAG.UTC_TIME) {
    match = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text);
    if (!match) throw new DerError(`malformed UTCTime ${JSON.stringify(text)}`);
    const yy = Number(match[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (element.tag === TAG.GENERALIZED_TIME) {
    match = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text);
    if (!match) throw new DerError(`malformed GeneralizedTime ${JSON.stringify(text)}`);
    year = Number(match[1]);
  } else {
    throw new DerError(`expected a time, found ${tagName(element.tag)}`);
  }
  const [mo, d, h, mi, s] = [2, 3, 4, 5, 6].map((i) => Number(match![i]));
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 59) throw new DerError(`time out of range: ${text}`);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.
  const date = new Date(0);
  date.setUTCFullYear(year, mo! - 1, d!);
  date.setUTCHours(h!, mi!, s!, 0);
  if (date.getUTCDate() !== d) throw new DerError(`no such day: ${text}`);
  return date.getTime();
}

/** DER BOOLEAN content: 0xFF is TRUE, 0x00 FALSE, anything else is not DER. */
export function decodeBoolean(value: Uint8Array): boolean {
  if (value.length !== 1 || (value[0] !== 0 && value[0] !== 0xff)) throw new DerError("BOOLEAN must be one octet 0x00 or 0xFF");
  return value[0] === 0xff;
}

/** A BIT STRING with any number of unused bits (named bit lists such as keyUsage); unused bits must be zero. */
export function decodeBitString(value: Uint8Array): { bytes: Uint8Array; unusedBits: number } {
  if (value.length === 0) throw new DerError("empty BIT STRING");
  const unusedBits = value[0]!;
  if (unusedBits > 7) throw new DerError(`BIT STRING with ${unusedBits} unused bits`);
  if (value.length === 1 && unusedBits !== 0) throw new DerError("empty BIT STRING with unused bits");
  if (unusedBits && value[value.length - 1]! & ((1 << unusedBits) - 1)) throw new DerError("BIT STRING unused bits are not zero");
  return { bytes: value.subarray(1), unusedBits };
}

/** Whether bit `index` (0 = most significant bit of the first byte, as ASN.1 numbers named bits) is set. */
export function bitIsSet(bytes: Uint8Array, index: number): boolean {
  const byte = bytes[index >> 3];
  return byte !== undefined && (byte & (0x80 >> (index & 7))) !== 0;
}

// ---- writing ----

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

/** One element with `tag` and the given content. */
export function encodeElement(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = content.length === 1 ? content[0]! : concatBytes(...content);
  return concatBytes(Uint8Array.of(tag), encodeLength(body.length), body);
}

export const encodeSequence = (...items: Uint8Array[]) => encodeElement(TAG.SEQUENCE, ...items);
export const encodeSet = (...items: Uint8Array[]) => encodeElement(TAG.SET, ...items);
export const encodeNull = () => Uint8Array.of(TAG.NULL, 0);
export const encodeOctetString = (bytes: Uint8Array) => encodeElement(TAG.OCTET_STRING, bytes);
export const encodeBitString = (bytes: Uint8Array) => encodeElement(TAG.BIT_STRING, Uint8Array.of(0), bytes);
export const encodeUtf8String = (bytes: Uint8Array) => encodeElement(TAG.UTF8_STRING, bytes);
/** Context-specific constructed [n] wrapper (EXPLICIT tagging). */
export const encodeExplicit = (n: number, ...items: Uint8Array[]) => encodeElement(0xa0 | n, ...items);

/** INTEGER from an unsigned big-endian magnitude (minimal form, sign octet added when needed). */
export function encodeUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.length === 0 ? Uint8Array.of(0) : magnitude.subarray(start);
  return trimmed[0]! & 0x80 ? encodeElement(TAG.INTEGER, Uint8Array.of(0), trimmed) : encodeElement(TAG.INTEGER, trimmed);
}

export function encodeSmallInteger(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new DerError(`cannot encode ${n} as a small INTEGER`);
  const octets: number[] = [];
  do {
    octets.unshift(n % 256);
    n = Math.floor(n / 256);
  } while (n > 0);
  return encodeUnsignedInteger(Uint8Array.from(octets));
}

export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new DerError(`bad OID ${dotted}`);
    return Number(a);
  });
  if (arcs.length < 2) throw new DerError(`bad OID ${dotted}`);
  const out: number[] = [];
  const pushArc = (arc: number) => {
    const group: number[] = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) group.unshift(0x80 | (n % 128));
    out.push(...group);
  };
  pushArc(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) pushArc(arc);
  return encodeElement(TAG.OID, Uint8Array.from(out));
}

/** UTCTime for years 1950..2049, GeneralizedTime otherwise (as RFC 5280 requires). */
export function encodeTime(epochMs: number): Uint8Array {
  const d = new Date(epochMs);
  const two = (n: number) => (n < 10 ? "0" : "") + n;
  const year = d.getUTCFullYear();
  const rest = two(d.getUTCMonth() + 1) + two(d.getUTCDate()) + two(d.getUTCHours()) + two(d.getUTCMinutes()) + two(d.getUTCSeconds()) + "Z";
  const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  if (year >= 1950 && year < 2050) return encodeElement(TAG.UTC_TIME, ascii(two(year % 100) + rest));
  return encodeElement(TAG.GENERALIZED_TIME, ascii(String(year).padStart(4, "0") + rest));
}

// ---- ECDSA signature forms ----

/** DER `Ecdsa-Sig-Value` (SEQUENCE of r, s) from raw r‖s of equal halves. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 132) throw new DerError(`raw ECDSA signature of ${raw.length} bytes`);
  const half = raw.length / 2;
  return encodeSequence(encodeUnsignedInteger(raw.subarray(0, half)), encodeUnsignedInteger(raw.subarray(half)));
}

/** Raw r‖s, each left-padded to `scalarLength` bytes, from a DER `Ecdsa-Sig-Value`. */
export function ecdsaDerToRaw(der: Uint8Array, scalarLength: number): Uint8Array {
  const reader = new DerReader(decodeOne(der, TAG.SEQUENCE), "ECDSA signature");
  const parts = [reader.next(TAG.INTEGER, "r"), reader.next(TAG.INTEGER, "s")].map((e) => decodeUnsignedInteger(e.value));
  reader.end();
  const out = new Uint8Array(2 * scalarLength);
  parts.forEach((p, i) => {
    if (p.length > scalarLength) throw new DerError(`ECDSA ${i ? "s" : "r"} is ${p.length} bytes, longer than ${scalarLength}`);
    out.set(p, (i + 1) * scalarLength - p.length);
  });
  return out;
}

/** Hex of an element for error messages, shortened. */
export function describeBytes(bytes: Uint8Array, max = 16): string {
  return bytes.length <= max ? toHex(bytes) : `${toHex(bytes.subarray(0, max))}… (${bytes.length} bytes)`;
}
