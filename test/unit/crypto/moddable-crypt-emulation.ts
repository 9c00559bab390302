/**
 * A stand-in for Moddable's native crypto modules (`crypt`: Digest, BlockCipher, Mode "CTR", GHASH;
 * `ec`/`ecp`: EC with mul/mul2, ECPoint) for running the native provider on Node and xsnap, where
 * the SDK's C code is absent. It reproduces the
 * behaviour the provider must cope with, as read in the SDK's modules/crypt/digest/modCrypt.c and
 * kcl/ghash.c: BlockCipher, Mode and GHASH take only ArrayBuffers (xsmcToArrayBuffer); GHASH pads
 * every write to a whole block; CTR increments the whole 128-bit counter big-endian; close(true)
 * returns the digest so far and keeps going; EC takes (a, b, m) and multiplies points given as
 * {x, y, z} (z = 0: infinity), answering normalised affine points. The primitives underneath are
 * @noble's SHA-2, AES and P-256/P-384 point arithmetic and a bit-serial GF(2^128) multiply written
 * from NIST SP 800-38D §6.3.
 * Counters record which native class did the work, so tests can see the provider really uses them.
 */
import { ecb } from "@noble/ciphers/aes.js";
import { p256, p384 } from "@noble/curves/nist.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { ModdableCrypt, NativeBlockCipher, NativeDigest, NativeEc, NativeEcPoint, NativeMode } from "../../../modules/crypto/native-provider.js";

export interface EmulationCounters {
  digests: number;
  digestBytes: number;
  keptStateCloses: number;
  blockCiphers: number;
  ctrBytes: number;
  ghashBytes: number;
  ecMultiplications: number;
}

/** The part of a noble hash instance the emulation uses. */
interface RunningHash {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
  clone(): RunningHash;
}

function requireArrayBuffer(value: unknown, what: string): ArrayBuffer {
  if (!(value instanceof ArrayBuffer)) throw new TypeError(`${what}: not an ArrayBuffer (the native code reads it with xsmcToArrayBuffer)`);
  return value;
}

function readable(value: unknown, what: string): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`${what}: not a buffer`);
}

function toBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < bytes.length; i++) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function toBytes16(n: bigint): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

// SP 800-38D Algorithm 1: the leftmost bit of a block is x0; R = 11100001 ‖ 0^120.
const R = 0xe1n << 120n;
function gfMultiply(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127; i >= 0; i--) {
    if ((x >> BigInt(i)) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}

export function emulatedModdableCrypt(): ModdableCrypt & { counters: EmulationCounters } {
  const counters: EmulationCounters = { digests: 0, digestBytes: 0, keptStateCloses: 0, blockCiphers: 0, ctrBytes: 0, ghashBytes: 0, ecMultiplications: 0 };
  const hashes: Record<string, { create(): RunningHash }> = { SHA256: sha256, SHA384: sha384, SHA512: sha512 };

  class Digest implements NativeDigest {
    #create: () => RunningHash;
    #state: RunningHash;
    #closed = false;
    constructor(algorithm: string) {
      const hash = hashes[algorithm];
      if (!hash) throw new Error("crypt: unsupported digest");
      counters.digests++;
      this.#create = () => hash.create();
      this.#state = this.#create();
    }
    write(data: ArrayBuffer): void {
      if (this.#closed) throw new Error("crypt: digest written after close");
      const bytes = readable(data, "Digest.write");
      counters.digestBytes += bytes.length;
      this.#state.update(bytes);
    }
    close(keepState?: boolean): ArrayBuffer {
      if (this.#closed) throw new Error("crypt: digest closed twice");
      if (keepState) {
        counters.keptStateCloses++;
        return this.#state.clone().digest().slice().buffer;
      }
      this.#closed = true;
      return this.#state.digest().slice().buffer;
    }
    reset(): void {
      this.#closed = false;
      this.#state = this.#create();
    }
  }

  class BlockCipher implements NativeBlockCipher {
    readonly #key: Uint8Array;
    constructor(algorithm: string, key: ArrayBuffer) {
      if (algorithm !== "AES") throw new Error("unsupported cipher");
      const bytes = new Uint8Array(requireArrayBuffer(key, "BlockCipher key")).slice();
      if (bytes.length !== 16 && bytes.length !== 24 && bytes.length !== 32) throw new Error("bad key size");
      counters.blockCiphers++;
      this.#key = bytes;
    }
    encrypt(block: ArrayBuffer, result?: ArrayBuffer): ArrayBuffer {
      const input = new Uint8Array(requireArrayBuffer(block, "BlockCipher.encrypt")).subarray(0, 16);
      const out = ecb(this.#key, { disablePadding: true }).encrypt(input);
      const target = result ? requireArrayBuffer(result, "BlockCipher.encrypt result") : new ArrayBuffer(16);
      new Uint8Array(target).set(out);
      return target;
    }
  }

  class Mode implements NativeMode {
    readonly #cipher: BlockCipher;
    readonly #counter = new Uint8Array(16);
    #offset = 0;
    #keystream = new Uint8Array(16);
    constructor(mode: string, cipher: NativeBlockCipher, iv?: ArrayBuffer) {
      if (mode !== "CTR") throw new Error("emulation: only CTR mode");
      this.#cipher = cipher as BlockCipher;
      if (iv) {
        const bytes = new Uint8Array(requireArrayBuffer(iv, "Mode iv")).subarray(0, 16);
        this.#counter.set(bytes, 16 - bytes.length);
      }
    }
    encrypt(data: ArrayBuffer, result?: ArrayBuffer): ArrayBuffer {
      const input = readable(data, "Mode.encrypt");
      const target = result ? requireArrayBuffer(result, "Mode.encrypt result") : new ArrayBuffer(input.length);
      const out = new Uint8Array(target);
      counters.ctrBytes += input.length;
      for (let i = 0; i < input.length; i++) {
        if (this.#offset === 0) this.#keystream = new Uint8Array(this.#cipher.encrypt(this.#counter.slice().buffer));
        out[i] = input[i]! ^ this.#keystream[this.#offset]!;
        this.#offset++;
        if (this.#offset === 16) {
          this.#offset = 0;
          for (let j = 15; j >= 0; j--) if (++this.#counter[j]! !== 0) break; // big-endian increment with carry
        }
      }
      return target;
    }
  }

  class GHASH implements NativeDigest {
    readonly #h: bigint;
    readonly #y0: bigint;
    readonly #aadLength: number;
    #y: bigint;
    #length = 0;
    constructor(h: ArrayBuffer, aad?: ArrayBuffer) {
      this.#h = toBigInt(new Uint8Array(requireArrayBuffer(h, "GHASH h")).subarray(0, 16));
      this.#y = 0n;
      if (aad !== undefined) {
        const bytes = new Uint8Array(requireArrayBuffer(aad, "GHASH aad"));
        this.#absorb(bytes);
        this.#aadLength = bytes.length;
      } else {
        this.#aadLength = 0;
      }
      this.#y0 = this.#y;
    }
    /** Like the SDK: whole blocks, then the tail zero-padded to a block — on every call. */
    #absorb(bytes: Uint8Array): void {
      for (let i = 0; i < bytes.length; i += 16) {
        const block = new Uint8Array(16);
        block.set(bytes.subarray(i, i + 16));
        this.#y = gfMultiply(this.#y ^ toBigInt(block), this.#h);
      }
    }
    write(data: ArrayBuffer): void {
      const bytes = readable(data, "GHASH.write");
      counters.ghashBytes += bytes.length;
      this.#length += bytes.length;
      this.#absorb(bytes);
    }
    close(): ArrayBuffer {
      const lengths = (BigInt(this.#aadLength * 8) << 64n) | BigInt(this.#length * 8);
      return toBytes16(gfMultiply(this.#y ^ lengths, this.#h)).buffer;
    }
    reset(): void {
      this.#y = this.#y0;
      this.#length = 0;
    }
  }

  class ECPoint implements NativeEcPoint {
    readonly z: bigint;
    constructor(
      readonly x: bigint,
      readonly y: bigint,
      identity = false,
    ) {
      this.z = identity ? 0n : 1n;
    }
  }

  class EC implements NativeEc {
    readonly #curve: typeof p256;
    constructor(a: bigint, b: bigint, m: bigint) {
      const curve = [p256, p384].find((c) => c.Point.CURVE().p === m && c.Point.CURVE().a === a && c.Point.CURVE().b === b);
      if (!curve) throw new Error("emulation: only P-256 and P-384");
      this.#curve = curve;
    }
    #toNoble(point: NativeEcPoint) {
      return point.z === 0n ? this.#curve.Point.ZERO : this.#curve.Point.fromAffine({ x: point.x, y: point.y });
    }
    #fromNoble(point: InstanceType<typeof p256.Point>): NativeEcPoint {
      if (point.is0()) return new ECPoint(0n, 0n, true);
      const { x, y } = point.toAffine();
      return new ECPoint(x, y);
    }
    mul(point: NativeEcPoint, k: bigint): NativeEcPoint {
      counters.ecMultiplications++;
      return this.#fromNoble(k === 0n ? this.#curve.Point.ZERO : this.#toNoble(point).multiplyUnsafe(k));
    }
    mul2(p1: NativeEcPoint, k1: bigint, p2: NativeEcPoint, k2: bigint): NativeEcPoint {
      return this.#fromNoble(this.#toNoble(this.mul(p1, k1)).add(this.#toNoble(this.mul(p2, k2))));
    }
  }

  return { Digest, BlockCipher, Mode, GHASH, EC, ECPoint, counters };
}
