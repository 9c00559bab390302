/**
 * A crypto provider on Moddable's native crypto (the SDK's C code; the same on ESP32 and in the
 * desktop simulator): SHA-256/384/512 digests from `crypt`, HMAC and HKDF over them, AES-GCM built
 * from the native AES block cipher, CTR mode and GHASH, and — when the SDK's `ec` module is passed
 * in — P-256/P-384 ECDH and ECDSA verification on its native point multiplication. RSA checks and
 * X25519 (RFC 7748's ladder; the SDK has no X25519) run on XS's BigInt, which is native C too.
 * ChaCha20-Poly1305 (the SDK has no Poly1305) goes to a fallback provider, by default the portable
 * noble one, which also covers ECDH when no `ec` module is given; ECDSA without it, and RSA, use the
 * noble provider's verification (verifyWithHash) with the native digests.
 *
 * Why the EC part matters on the device beyond speed: XS compares a BigInt created while the
 * firmware was preloaded into flash (a module-level constant, as @noble/curves has many) with a
 * BigInt computed at run time as never equal (XS_CODE_STRICT_EQUAL has no case for the mixed
 * XS_BIGINT_X_KIND/XS_BIGINT_KIND pair in SDK 8.2.3), so noble's curve code fails in a preloaded
 * build. Here curve constants are literals inside functions (decoded at run time), and BigInts are
 * only compared with others computed at run time.
 *
 * The `crypt` module is passed in rather than imported, so this file stays host-neutral: the
 * device passes `import * as crypt from "crypt"`; tests pass an emulation or, in the Moddable
 * simulator, the real module.
 *
 * Native calls take ArrayBuffers (several read their arguments with xsmcToArrayBuffer), so inputs
 * are copied into fresh, aligned ArrayBuffers first; the SDK's GHASH pads every write to a whole
 * block, so each GHASH input is written in one call.
 */
import { ecdsaDerToRaw } from "./der.js";
import { nobleCrypto, verifyWithHash } from "./noble-provider.js";
import {
  AEAD_TAG_LENGTH,
  AeadAuthError,
  checkAeadArguments,
  CryptoError,
  HASH_LENGTH,
  type AeadName,
  type CryptoProvider,
  type EcCurve,
  type EcdhKeyPair,
  type HashName,
  type HashState,
  type PublicKey,
  type RandomSource,
  type SignatureAlgorithm,
} from "./provider.js";
import { modPow } from "./rsa.js";

/** A native digest (`crypt` Digest, and GHASH, which extends it). */
export interface NativeDigest {
  write(data: ArrayBuffer): void;
  /** The digest; with `keepState` true the running state survives (digest so far, keep going). */
  close(keepState?: boolean): ArrayBuffer;
  reset(): void;
}

export interface NativeBlockCipher {
  encrypt(block: ArrayBuffer, result?: ArrayBuffer): ArrayBuffer;
}

export interface NativeMode {
  encrypt(data: ArrayBuffer, result?: ArrayBuffer): ArrayBuffer;
}

/** A point as the SDK's `ecp` module holds it: affine x, y; z is 0 for the point at infinity. */
export interface NativeEcPoint {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}

/** The SDK's `ec` module (modules/crypt/arith/ec.js): y² = x³ + ax + b over GF(m), native multiplication. */
export interface NativeEc {
  mul(point: NativeEcPoint, k: bigint): NativeEcPoint;
  /** k1·p1 + k2·p2. */
  mul2(p1: NativeEcPoint, k1: bigint, p2: NativeEcPoint, k2: bigint): NativeEcPoint;
}

/** The parts of Moddable's crypto modules this provider uses: `crypt` (modules/crypt/digest/crypt.js), optionally `ec` and `ecp`. */
export interface ModdableCrypt {
  Digest: new (algorithm: string) => NativeDigest;
  BlockCipher: new (algorithm: string, key: ArrayBuffer) => NativeBlockCipher;
  Mode: new (mode: string, cipher: NativeBlockCipher, iv?: ArrayBuffer) => NativeMode;
  GHASH: new (h: ArrayBuffer, aad?: ArrayBuffer) => NativeDigest;
  EC?: new (a: bigint, b: bigint, m: bigint) => NativeEc;
  ECPoint?: new (x: bigint, y: bigint, identity?: boolean) => NativeEcPoint;
}

const NATIVE_DIGEST_NAME: Readonly<Record<HashName, string>> = { sha256: "SHA256", sha384: "SHA384", sha512: "SHA512" };
const BLOCK_LENGTH: Readonly<Record<HashName, number>> = { sha256: 64, sha384: 128, sha512: 128 };

/** A fresh ArrayBuffer holding exactly `bytes` (never shared with the caller's array). */
function buffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

function hashName(algorithm: HashName): string {
  const name = NATIVE_DIGEST_NAME[algorithm];
  if (!name) throw new CryptoError("unsupported", `unsupported hash ${String(algorithm)}`);
  return name;
}

/**
 * A running native hash. The native Digest cannot be copied, so the state remembers its input (in
 * one growing buffer): a clone replays it into a new Digest. The TLS transcript only ever takes
 * `clone().digest()`; that costs nothing extra, because the fork asks its parent for the digest so
 * far (`close(true)`) as long as neither has been updated since the fork. A fork shares its
 * parent's buffer (the parent only appends past the fork point) until the fork is updated itself.
 */
class NativeHashState implements HashState {
  readonly outputLength: number;
  readonly blockLength: number;
  #native: NativeDigest | undefined;
  #log: Uint8Array;
  #logLength: number;
  /** False while #log is shared with the state this one was forked from. */
  #ownsLog: boolean;
  #finished = false;
  /** Bumped on each update, so a fork can tell that its parent has moved on. */
  #generation = 0;
  /** While set, this state is an unmodified fork of `parent` taken at `generation`. */
  #forkedFrom: { parent: NativeHashState; generation: number } | undefined;

  constructor(
    readonly algorithm: HashName,
    private readonly crypt: ModdableCrypt,
    log?: { bytes: Uint8Array; length: number },
  ) {
    this.outputLength = HASH_LENGTH[algorithm];
    this.blockLength = BLOCK_LENGTH[algorithm];
    this.#log = log ? log.bytes : new Uint8Array(0);
    this.#logLength = log ? log.length : 0;
    this.#ownsLog = !log;
    if (this.#logLength === 0) this.#native = new crypt.Digest(hashName(algorithm));
  }

  #check(what: string): void {
    if (this.#finished) throw new CryptoError("invalid-argument", `${this.algorithm} hash ${what} after digest()`);
  }

  /** The native digest, replaying the remembered input when this state was forked. */
  #digestObject(): NativeDigest {
    if (!this.#native) {
      const native = new this.crypt.Digest(hashName(this.algorithm));
      if (this.#logLength > 0) native.write(this.#log.slice(0, this.#logLength).buffer);
      this.#native = native;
    }
    this.#forkedFrom = undefined;
    return this.#native;
  }

  #append(data: Uint8Array): void {
    const needed = this.#logLength + data.length;
    if (!this.#ownsLog || needed > this.#log.length) {
      const grown = new Uint8Array(Math.max(needed, this.#ownsLog ? this.#log.length * 2 : needed, 256));
      grown.set(this.#log.subarray(0, this.#logLength));
      this.#log = grown;
      this.#ownsLog = true;
    }
    this.#log.set(data, this.#logLength);
    this.#logLength = needed;
  }

  update(data: Uint8Array): HashState {
    this.#check("updated");
    this.#digestObject().write(buffer(data));
    this.#append(data);
    this.#generation++;
    return this;
  }

  digest(): Uint8Array {
    if (this.#finished) throw new CryptoError("invalid-argument", `${this.algorithm} digest() called twice`);
    this.#finished = true;
    const fork = this.#forkedFrom;
    let result: Uint8Array;
    if (fork && !fork.parent.#finished && fork.parent.#generation === fork.generation && fork.parent.#native) {
      this.#forkedFrom = undefined;
      result = new Uint8Array(fork.parent.#native.close(true));
    } else {
      result = new Uint8Array(this.#digestObject().close());
    }
    this.#log = new Uint8Array(0);
    this.#logLength = 0;
    return result;
  }

  clone(): HashState {
    this.#check("cloned");
    const fork = new NativeHashState(this.algorithm, this.crypt, { bytes: this.#log, length: this.#logLength });
    if (this.#logLength > 0) fork.#forkedFrom = { parent: this, generation: this.#generation };
    return fork;
  }
}

function nativeHash(crypt: ModdableCrypt, algorithm: HashName, data: Uint8Array): Uint8Array {
  const digest = new crypt.Digest(hashName(algorithm));
  if (data.length > 0) digest.write(buffer(data));
  return new Uint8Array(digest.close());
}

/** HMAC (RFC 2104) over a native digest. */
function nativeHmac(crypt: ModdableCrypt, algorithm: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
  const name = hashName(algorithm);
  const blockLength = BLOCK_LENGTH[algorithm];
  const shortKey = key.length > blockLength ? nativeHash(crypt, algorithm, key) : key;
  const inner = new Uint8Array(blockLength).fill(0x36);
  const outer = new Uint8Array(blockLength).fill(0x5c);
  for (let i = 0; i < shortKey.length; i++) {
    inner[i]! ^= shortKey[i]!;
    outer[i]! ^= shortKey[i]!;
  }
  const innerDigest = new crypt.Digest(name);
  innerDigest.write(inner.buffer);
  if (data.length > 0) innerDigest.write(buffer(data));
  const outerDigest = new crypt.Digest(name);
  outerDigest.write(outer.buffer);
  outerDigest.write(innerDigest.close());
  return new Uint8Array(outerDigest.close());
}

/**
 * AES-GCM (NIST SP 800-38D) for a 96-bit nonce: J0 = nonce ‖ 0x00000001, the payload is CTR-mode
 * from J0 + 1 (the native CTR increments all 128 bits, which equals GCM's 32-bit increment here:
 * the low word starts at 2 and a TLS record is far below 2^32 blocks), the tag is
 * E(K, J0) XOR GHASH_H(A, C).
 */
class NativeGcm {
  readonly #crypt: ModdableCrypt;
  readonly #cipher: NativeBlockCipher;
  readonly #h: ArrayBuffer;
  readonly #j0: Uint8Array;
  constructor(crypt: ModdableCrypt, key: Uint8Array, nonce: Uint8Array) {
    this.#crypt = crypt;
    this.#cipher = new crypt.BlockCipher("AES", buffer(key));
    this.#h = this.#cipher.encrypt(new ArrayBuffer(16));
    this.#j0 = new Uint8Array(16);
    this.#j0.set(nonce);
    this.#j0[15] = 1;
  }
  ctr(data: Uint8Array): Uint8Array {
    if (data.length === 0) return new Uint8Array(0);
    const counter = Uint8Array.from(this.#j0);
    counter[15] = 2;
    const mode = new this.#crypt.Mode("CTR", this.#cipher, counter.buffer);
    return new Uint8Array(mode.encrypt(buffer(data)));
  }
  tag(aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const ghash = new this.#crypt.GHASH(this.#h, buffer(aad));
    if (ciphertext.length > 0) ghash.write(buffer(ciphertext));
    const s = new Uint8Array(ghash.close());
    const mask = new Uint8Array(this.#cipher.encrypt(buffer(this.#j0)));
    for (let i = 0; i < AEAD_TAG_LENGTH; i++) s[i]! ^= mask[i]!;
    return s.subarray(0, AEAD_TAG_LENGTH);
  }
}

/** Constant-time comparison of two tags of equal length. */
function tagsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/**
 * Signature verification (provider.ts contract) with the message hashed by `hash`: ECDSA on the
 * native curve code when the SDK's `ec` module was given; everything else (ECDSA without it, RSA)
 * as the @noble provider does it, with the native digests.
 */
function verifySignature(crypt: ModdableCrypt, hash: (algorithm: HashName, data: Uint8Array) => Uint8Array, algorithm: SignatureAlgorithm, key: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  if (algorithm.kind === "ecdsa" && key.kind === "ec" && crypt.EC && crypt.ECPoint) {
    hashName(algorithm.hash);
    return nativeEcdsaVerify(crypt, key.curve, key.point, hash(algorithm.hash, message), signature);
  }
  return verifyWithHash(hash, algorithm, key, message, signature);
}

// ---- P-256 / P-384 on the SDK's native point arithmetic ----

interface CurveParameters {
  /** Field prime, curve coefficients, base point, group order (SEC 2 §2.4.2, §2.5.1). */
  p: bigint;
  a: bigint;
  b: bigint;
  gx: bigint;
  gy: bigint;
  n: bigint;
  /** Bytes of a field element / scalar. */
  size: number;
}

/** SEC 2 domain parameters. Literals inside a function: decoded at run time, so never flash BigInts. */
function curveParameters(curve: EcCurve): CurveParameters {
  if (curve === "secp256r1") {
    return {
      p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
      a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
      b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
      gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
      gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
      n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
      size: 32,
    };
  }
  if (curve === "secp384r1") {
    return {
      p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
      a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
      b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
      gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
      gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
      n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
      size: 48,
    };
  }
  throw new CryptoError("unsupported", `unsupported curve ${String(curve)}`);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < bytes.length; i++) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function bigIntToBytes(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}

/** x³ + ax + b (mod p). */
function curveRightSide(c: CurveParameters, x: bigint): bigint {
  return (((x * x) % c.p) * x + c.a * x + c.b) % c.p;
}

/**
 * A SEC1 point (uncompressed, or compressed when `allowCompressed`) checked to lie on the curve and
 * not be the point at infinity (prime-order curves: every such point is in the group).
 */
function parseCurvePoint(c: CurveParameters, bytes: Uint8Array, allowCompressed: boolean, what: string): { x: bigint; y: bigint } {
  const fail = (why: string): never => {
    throw new CryptoError("invalid-point", `${what} ${why}`);
  };
  if (bytes.length === 1 + 2 * c.size && bytes[0] === 0x04) {
    const x = bytesToBigInt(bytes.subarray(1, 1 + c.size));
    const y = bytesToBigInt(bytes.subarray(1 + c.size));
    if (!(x < c.p) || !(y < c.p)) fail("has a coordinate outside the field");
    if ((y * y) % c.p !== curveRightSide(c, x)) fail("is not on the curve");
    return { x, y };
  }
  if (allowCompressed && bytes.length === 1 + c.size && (bytes[0] === 0x02 || bytes[0] === 0x03)) {
    const x = bytesToBigInt(bytes.subarray(1));
    if (!(x < c.p)) fail("has a coordinate outside the field");
    const ySquared = curveRightSide(c, x);
    // p ≡ 3 (mod 4) for both curves: a square root is ySquared^((p+1)/4).
    let y = modPow(ySquared, (c.p + 1n) / 4n, c.p);
    if ((y * y) % c.p !== ySquared) fail("is not on the curve (x has no square root)");
    if ((y & 1n) !== BigInt(bytes[0]! & 1)) y = c.p - y;
    return { x, y };
  }
  if (bytes.length === 1 && bytes[0] === 0x00) fail("is the point at infinity");
  return fail(`must be a SEC1 point of ${allowCompressed ? `${1 + c.size} or ` : ""}${1 + 2 * c.size} bytes`);
}

class NativeCurve {
  readonly c: CurveParameters;
  readonly #ec: NativeEc;
  readonly #point: new (x: bigint, y: bigint, identity?: boolean) => NativeEcPoint;
  constructor(crypt: ModdableCrypt, curve: EcCurve) {
    this.c = curveParameters(curve);
    this.#ec = new crypt.EC!(this.c.a, this.c.b, this.c.p);
    this.#point = crypt.ECPoint!;
  }
  point(x: bigint, y: bigint): NativeEcPoint {
    return new this.#point(x, y);
  }
  base(): NativeEcPoint {
    return this.point(this.c.gx, this.c.gy);
  }
  mul(point: NativeEcPoint, k: bigint): NativeEcPoint {
    return this.#ec.mul(point, k);
  }
  mul2(p1: NativeEcPoint, k1: bigint, p2: NativeEcPoint, k2: bigint): NativeEcPoint {
    // Zero scalars are handled here rather than trusting the native code with them.
    if (k1 === 0n) return this.#ec.mul(p2, k2);
    if (k2 === 0n) return this.#ec.mul(p1, k1);
    return this.#ec.mul2(p1, k1, p2, k2);
  }
  isInfinity(point: NativeEcPoint): boolean {
    return point.z === 0n;
  }
  encode(point: NativeEcPoint): Uint8Array {
    const out = new Uint8Array(1 + 2 * this.c.size);
    out[0] = 0x04;
    out.set(bigIntToBytes(point.x, this.c.size), 1);
    out.set(bigIntToBytes(point.y, this.c.size), 1 + this.c.size);
    return out;
  }
}

const SEED_LENGTH: Readonly<Record<EcCurve, number>> = { secp256r1: 48, secp384r1: 72 };

// ---- X25519 (RFC 7748 §5) on BigInt ----

/** The X25519 function: scalar `k` (clamped) times the u-coordinate `u`, both 32 bytes little-endian. */
function x25519(k: Uint8Array, u: Uint8Array): Uint8Array {
  const p = 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffedn; // 2^255 − 19, decoded at run time
  const mod = (a: bigint) => {
    const r = a % p;
    return r < 0n ? r + p : r;
  };
  const littleEndian = (bytes: Uint8Array) => {
    let n = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
    return n;
  };
  const scalarBytes = Uint8Array.from(k);
  scalarBytes[0]! &= 248;
  scalarBytes[31]! &= 127;
  scalarBytes[31]! |= 64;
  const scalar = littleEndian(scalarBytes);
  const uBytes = Uint8Array.from(u);
  uBytes[31]! &= 127; // §5: the most significant bit of the u-coordinate is ignored
  const x1 = mod(littleEndian(uBytes));
  let x2 = 1n;
  let z2 = 0n;
  let x3 = x1;
  let z3 = 1n;
  let swap = 0n;
  for (let t = 254; t >= 0; t--) {
    const bit = (scalar >> BigInt(t)) & 1n;
    swap ^= bit;
    if (swap) {
      [x2, x3] = [x3, x2];
      [z2, z3] = [z3, z2];
    }
    swap = bit;
    const a = mod(x2 + z2);
    const aa = mod(a * a);
    const b = mod(x2 - z2);
    const bb = mod(b * b);
    const e = mod(aa - bb);
    const c = mod(x3 + z3);
    const d = mod(x3 - z3);
    const da = mod(d * a);
    const cb = mod(c * b);
    x3 = mod((da + cb) * (da + cb));
    z3 = mod(x1 * mod((da - cb) * (da - cb)));
    x2 = mod(aa * bb);
    z2 = mod(e * (aa + 121665n * e));
  }
  if (swap) {
    [x2, x3] = [x3, x2];
    [z2, z3] = [z3, z2];
  }
  let result = mod(x2 * modPow(z2, p - 2n, p));
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(result & 0xffn);
    result >>= 8n;
  }
  return out;
}

/** The u-coordinate 9 (the base point). */
function x25519Base(): Uint8Array {
  const base = new Uint8Array(32);
  base[0] = 9;
  return base;
}

function x25519KeyPair(random: Uint8Array | RandomSource): EcdhKeyPair {
  const seed = typeof random === "function" ? random(32) : random;
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new CryptoError("invalid-argument", `x25519 key generation needs 32 random bytes, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`);
  }
  // RFC 7748 §5: any 32 bytes are a private key (clamped when used).
  const privateKey = Uint8Array.from(seed);
  return { group: "x25519", privateKey, publicKey: x25519(privateKey, x25519Base()) };
}

function x25519SharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  if (privateKey.length !== 32) throw new CryptoError("invalid-key", `x25519 private key must be 32 bytes, got ${privateKey.length}`);
  if (peerPublicKey.length !== 32) throw new CryptoError("invalid-point", `x25519 public key must be 32 bytes, got ${peerPublicKey.length}`);
  const shared = x25519(privateKey, peerPublicKey);
  let any = 0;
  for (let i = 0; i < shared.length; i++) any |= shared[i]!;
  // RFC 7748 §6.1 / RFC 8446 §7.4.2: an all-zero result means a low-order peer point.
  if (any === 0) throw new CryptoError("invalid-point", "x25519 shared secret is all zero (low-order peer public key)");
  return shared;
}

function nativeEcdhKeyPair(crypt: ModdableCrypt, group: EcCurve, random: Uint8Array | RandomSource): EcdhKeyPair {
  const curve = new NativeCurve(crypt, group);
  const need = SEED_LENGTH[group];
  const seed = typeof random === "function" ? random(need) : random;
  if (!(seed instanceof Uint8Array) || seed.length !== need) {
    throw new CryptoError("invalid-argument", `${group} key generation needs ${need} random bytes, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`);
  }
  // FIPS 186-5 A.2.1: d = (c mod (n − 1)) + 1 from 64 extra bits, so d is unbiased in [1, n − 1].
  const d = (bytesToBigInt(seed) % (curve.c.n - 1n)) + 1n;
  const publicPoint = curve.mul(curve.base(), d);
  return { group, privateKey: bigIntToBytes(d, curve.c.size), publicKey: curve.encode(publicPoint) };
}

function nativeEcdhSharedSecret(crypt: ModdableCrypt, group: EcCurve, privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  const curve = new NativeCurve(crypt, group);
  // RFC 8446 §4.2.8.2: key shares are uncompressed points.
  const peer = parseCurvePoint(curve.c, peerPublicKey, false, `${group} peer public key`);
  const d = bytesToBigInt(privateKey);
  if (privateKey.length !== curve.c.size || d === 0n || !(d < curve.c.n)) throw new CryptoError("invalid-key", `${group} private key is not a valid scalar`);
  const shared = curve.mul(curve.point(peer.x, peer.y), d);
  if (curve.isInfinity(shared)) throw new CryptoError("invalid-point", `${group} shared point is the point at infinity`);
  return bigIntToBytes(shared.x, curve.c.size);
}

/** ECDSA verification (FIPS 186-5 §6.4.2) of `digest` with native point arithmetic. */
function nativeEcdsaVerify(crypt: ModdableCrypt, curveName: EcCurve, publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
  const curve = new NativeCurve(crypt, curveName);
  const { n, size } = curve.c;
  const q = parseCurvePoint(curve.c, publicKey, true, "ECDSA public key");
  let raw: Uint8Array;
  try {
    raw = ecdsaDerToRaw(signature, size);
  } catch {
    return false; // not a strict DER Ecdsa-Sig-Value, or an integer longer than the order
  }
  const r = bytesToBigInt(raw.subarray(0, size));
  const s = bytesToBigInt(raw.subarray(size));
  if (r === 0n || s === 0n || !(r < n) || !(s < n)) return false;
  // The leftmost bits of the digest, as many as the order has (equal sizes here, or a shorter digest).
  let e = bytesToBigInt(digest);
  const excessBits = digest.length * 8 - size * 8;
  if (excessBits > 0) e >>= BigInt(excessBits);
  const w = modPow(s, n - 2n, n);
  const point = curve.mul2(curve.base(), (e * w) % n, curve.point(q.x, q.y), (r * w) % n);
  if (curve.isInfinity(point)) return false;
  return point.x % n === r;
}

export function createNativeProvider(crypt: ModdableCrypt, fallback: CryptoProvider = nobleCrypto): CryptoProvider {
  const hmac = (algorithm: HashName, key: Uint8Array, data: Uint8Array) => nativeHmac(crypt, algorithm, key, data);
  const nativeEc = Boolean(crypt.EC && crypt.ECPoint);
  return {
    name: "moddable-native",
    createHash: (algorithm) => new NativeHashState(algorithm, crypt),
    hash: (algorithm, data) => nativeHash(crypt, algorithm, data),
    hmac,
    // RFC 5869 §2.2: an absent salt means HashLen zero bytes, which HMAC's zero padding of the key gives.
    hkdfExtract: (algorithm, salt, ikm) => hmac(algorithm, salt, ikm),
    hkdfExpand(algorithm, prk, info, length) {
      hashName(algorithm);
      const hLen = HASH_LENGTH[algorithm];
      if (!Number.isInteger(length) || length < 0 || length > 255 * hLen) {
        throw new CryptoError("invalid-argument", `HKDF-Expand length ${length} is outside 0..${255 * hLen}`);
      }
      if (prk.length < hLen) throw new CryptoError("invalid-key", `HKDF-Expand PRK of ${prk.length} bytes is shorter than ${hLen}`);
      const okm = new Uint8Array(length);
      let previous: Uint8Array = new Uint8Array(0);
      for (let i = 1, offset = 0; offset < length; i++) {
        const input = new Uint8Array(previous.length + info.length + 1);
        input.set(previous);
        input.set(info, previous.length);
        input[input.length - 1] = i;
        previous = hmac(algorithm, prk, input);
        okm.set(previous.subarray(0, Math.min(hLen, length - offset)), offset);
        offset += hLen;
      }
      return okm;
    },
    aeadSeal(algorithm, key, nonce, plaintext, aad) {
      if (algorithm === "chacha20-poly1305") return fallback.aeadSeal(algorithm, key, nonce, plaintext, aad);
      checkAeadArguments(algorithm, key, nonce);
      const gcm = new NativeGcm(crypt, key, nonce);
      const ciphertext = gcm.ctr(plaintext);
      const sealed = new Uint8Array(ciphertext.length + AEAD_TAG_LENGTH);
      sealed.set(ciphertext);
      sealed.set(gcm.tag(aad, ciphertext), ciphertext.length);
      return sealed;
    },
    aeadOpen(algorithm, key, nonce, sealed, aad) {
      if (algorithm === "chacha20-poly1305") return fallback.aeadOpen(algorithm, key, nonce, sealed, aad);
      checkAeadArguments(algorithm, key, nonce);
      if (sealed.length < AEAD_TAG_LENGTH) throw new AeadAuthError(`${algorithm} input of ${sealed.length} bytes is shorter than the tag`);
      const gcm = new NativeGcm(crypt, key, nonce);
      const ciphertext = sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH);
      if (!tagsEqual(gcm.tag(aad, ciphertext), sealed.subarray(ciphertext.length))) throw new AeadAuthError(`${algorithm} authentication failed`);
      return gcm.ctr(ciphertext);
    },
    ecdhSeedLength(group) {
      if (group === "x25519") return 32;
      return (nativeEc && SEED_LENGTH[group]) || fallback.ecdhSeedLength(group);
    },
    ecdhKeyPair(group, random) {
      if (group === "x25519") return x25519KeyPair(random);
      return nativeEc && SEED_LENGTH[group] ? nativeEcdhKeyPair(crypt, group, random) : fallback.ecdhKeyPair(group, random);
    },
    ecdhSharedSecret(group, privateKey, peerPublicKey) {
      if (group === "x25519") return x25519SharedSecret(privateKey, peerPublicKey);
      return nativeEc && SEED_LENGTH[group] ? nativeEcdhSharedSecret(crypt, group, privateKey, peerPublicKey) : fallback.ecdhSharedSecret(group, privateKey, peerPublicKey);
    },
    verify: (algorithm, key, message, signature) => verifySignature(crypt, (name, data) => nativeHash(crypt, name, data), algorithm, key, message, signature),
  };
}
