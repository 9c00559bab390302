/**
 * Reading and writing the TLS presentation language (RFC 8446 §3): big-endian integers and
 * length-prefixed vectors. The reader checks every length against what is left and names the
 * field in its errors, so a hostile message yields TlsDecodeError, never an out-of-bounds read.
 */
import { concatBytes } from "../bytes/bytes.js";
import { TlsDecodeError } from "./errors.js";

export class TlsReader {
  #bytes: Uint8Array;
  #offset = 0;

  /** `what` names the structure in error messages ("ServerHello", "key_share extension"...). */
  constructor(
    bytes: Uint8Array,
    readonly what: string,
  ) {
    this.#bytes = bytes;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  get done(): boolean {
    return this.#offset >= this.#bytes.length;
  }

  #need(count: number, field: string): void {
    if (count > this.remaining) {
      throw new TlsDecodeError(`${this.what}: truncated ${field} (need ${count} bytes, ${this.remaining} left)`);
    }
  }

  #uint(length: number, field: string): number {
    this.#need(length, field);
    let value = 0;
    for (let i = 0; i < length; i++) value = value * 256 + this.#bytes[this.#offset + i]!;
    this.#offset += length;
    return value;
  }

  u8(field: string): number {
    return this.#uint(1, field);
  }
  u16(field: string): number {
    return this.#uint(2, field);
  }
  u24(field: string): number {
    return this.#uint(3, field);
  }
  u32(field: string): number {
    return this.#uint(4, field);
  }

  /** `count` bytes as a view into the input. */
  bytes(count: number, field: string): Uint8Array {
    this.#need(count, field);
    const out = this.#bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }

  /**
   * A vector with a `lengthBytes`-byte length prefix (RFC 8446 `<min..max>`): returns its content.
   * A length outside [min, max] is a decode_error, as is one past the end of the input.
   */
  vector(lengthBytes: 1 | 2 | 3, field: string, min = 0, max = 2 ** (8 * lengthBytes) - 1): Uint8Array {
    const length = this.#uint(lengthBytes, `${field} length`);
    if (length < min || length > max) {
      throw new TlsDecodeError(`${this.what}: ${field} length ${length} is outside ${min}..${max}`);
    }
    return this.bytes(length, field);
  }

  /** Like vector(), but returns a reader over the content (for nested structures). */
  sub(lengthBytes: 1 | 2 | 3, field: string, min = 0, max = 2 ** (8 * lengthBytes) - 1): TlsReader {
    return new TlsReader(this.vector(lengthBytes, field, min, max), `${this.what} ${field}`);
  }

  /** The rest of the input. */
  rest(): Uint8Array {
    return this.bytes(this.remaining, "rest");
  }

  /** Fails when bytes are left over: every structure must be consumed exactly. */
  end(): void {
    if (!this.done) throw new TlsDecodeError(`${this.what}: ${this.remaining} unexpected trailing bytes`);
  }

  /** A vector of u16 values (cipher suites, groups, signature schemes), which must have even length. */
  u16List(lengthBytes: 1 | 2, field: string, min = 0, max = 2 ** (8 * lengthBytes) - 2): number[] {
    const body = this.vector(lengthBytes, field, min, max);
    if (body.length % 2 !== 0) throw new TlsDecodeError(`${this.what}: ${field} has odd length ${body.length}`);
    const out: number[] = [];
    for (let i = 0; i < body.length; i += 2) out.push(body[i]! * 256 + body[i + 1]!);
    return out;
  }
}

// ---- writing ----

export function u8(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff);
}

export function u16(value: number): Uint8Array {
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff);
}

export function u24(value: number): Uint8Array {
  return Uint8Array.of((value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

export function u32(value: number): Uint8Array {
  return Uint8Array.of((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

/** Content prefixed with its length in `lengthBytes` bytes. Throws RangeError when it does not fit (a bug, not input). */
export function vector(lengthBytes: 1 | 2 | 3, ...content: Uint8Array[]): Uint8Array {
  const body = content.length === 1 ? content[0]! : concatBytes(...content);
  if (body.length >= 2 ** (8 * lengthBytes)) throw new RangeError(`vector of ${body.length} bytes does not fit a ${lengthBytes}-byte length`);
  const prefix = lengthBytes === 1 ? u8(body.length) : lengthBytes === 2 ? u16(body.length) : u24(body.length);
  return concatBytes(prefix, body);
}

export function u16Vector(lengthBytes: 1 | 2, values: readonly number[]): Uint8Array {
  return vector(lengthBytes, concatBytes(...values.map(u16)));
}
