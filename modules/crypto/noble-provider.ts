/**
 * The portable crypto provider: audited pure-TS primitives from @noble (hashes, curves, ciphers)
 * plus hand-written RSA verification (rsa.ts). Runs unchanged on Node and XS.
 */
import { gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { p256, p384 } from "@noble/curves/nist.js";
import { expand as hkdfExpandNoble, extract as hkdfExtractNoble } from "@noble/hashes/hkdf.js";
import { hmac as hmacNoble } from "@noble/hashes/hmac.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { ecdsaDerToRaw } from "./der.js";
import {
  AEAD_TAG_LENGTH,
  AeadAuthError,
  checkAeadArguments,
  CryptoError,
  HASH_LENGTH,
  type AeadName,
  type CryptoProvider,
  type EcCurve,
  type EcdhGroup,
  type EcdhKeyPair,
  type HashName,
  type HashState,
  type PublicKey,
  type RandomSource,
  type SignatureAlgorithm,
} from "./provider.js";
import { rsaPublicKey, verifyPkcs1v15, verifyPss } from "./rsa.js";

const HASHES = { sha256, sha384, sha512 } as const;

function hashFor(algorithm: HashName) {
  const h = HASHES[algorithm];
  if (!h) throw new CryptoError("unsupported", `unsupported hash ${String(algorithm)}`);
  return h;
}

/** The subset of a noble hash instance we rely on. */
interface NobleHashInstance {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
  clone(): NobleHashInstance;
}

class NobleHashState implements HashState {
  #inner: NobleHashInstance;
  #finished = false;
  readonly outputLength: number;
  readonly blockLength: number;
  constructor(
    readonly algorithm: HashName,
    inner: NobleHashInstance,
  ) {
    this.#inner = inner;
    this.outputLength = HASH_LENGTH[algorithm];
    this.blockLength = algorithm === "sha256" ? 64 : 128;
  }
  update(data: Uint8Array): HashState {
    if (this.#finished) throw new CryptoError("invalid-argument", `${this.algorithm} hash updated after digest()`);
    this.#inner.update(data);
    return this;
  }
  digest(): Uint8Array {
    if (this.#finished) throw new CryptoError("invalid-argument", `${this.algorithm} digest() called twice`);
    this.#finished = true;
    return this.#inner.digest();
  }
  clone(): HashState {
    if (this.#finished) throw new CryptoError("invalid-argument", `${this.algorithm} hash cloned after digest()`);
    return new NobleHashState(this.algorithm, this.#inner.clone());
  }
}

function hash(algorithm: HashName, data: Uint8Array): Uint8Array {
  return hashFor(algorithm)(data);
}

function aeadCipher(algorithm: AeadName, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array) {
  checkAeadArguments(algorithm, key, nonce);
  return algorithm === "chacha20-poly1305" ? chacha20poly1305(key, nonce, aad) : gcm(key, nonce, aad);
}

const WEIERSTRASS = { secp256r1: p256, secp384r1: p384 } as const;
/** Scalar / coordinate size in bytes. */
const FIELD_BYTES = { secp256r1: 32, secp384r1: 48 } as const;

function weierstrass(group: EcCurve) {
  const curve = WEIERSTRASS[group];
  if (!curve) throw new CryptoError("unsupported", `unsupported curve ${String(group)}`);
  return curve;
}

function seedLength(group: EcdhGroup): number {
  if (group === "x25519") return 32;
  // FIPS 186-5 A.2.1: draw 64 extra bits and reduce, so the scalar is unbiased (noble's mapHashToField).
  return weierstrass(group).lengths.seed!;
}

function ecdhKeyPair(group: EcdhGroup, random: Uint8Array | RandomSource): EcdhKeyPair {
  const need = seedLength(group);
  const seed = typeof random === "function" ? random(need) : random;
  if (!(seed instanceof Uint8Array) || seed.length !== need) {
    throw new CryptoError("invalid-argument", `${group} key generation needs ${need} random bytes, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`);
  }
  if (group === "x25519") {
    // RFC 7748 §5: any 32 bytes are a private key (clamped when used).
    const privateKey = Uint8Array.from(seed);
    return { group, privateKey, publicKey: x25519.getPublicKey(privateKey) };
  }
  const curve = weierstrass(group);
  const privateKey = curve.utils.randomSecretKey(seed);
  return { group, privateKey, publicKey: curve.getPublicKey(privateKey, false) };
}

/** Parses an EC point, mapping every failure to CryptoError "invalid-point". */
function parsePoint(group: EcCurve, bytes: Uint8Array, what: string) {
  const curve = weierstrass(group);
  let point;
  try {
    point = curve.Point.fromBytes(bytes);
    point.assertValidity();
  } catch (error) {
    throw new CryptoError("invalid-point", `${what} is not a valid ${group} point (${(error as Error).message})`);
  }
  if (point.is0()) throw new CryptoError("invalid-point", `${what} is the point at infinity`);
  return point;
}

function ecdhSharedSecret(group: EcdhGroup, privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  if (group === "x25519") {
    if (privateKey.length !== 32) throw new CryptoError("invalid-key", `x25519 private key must be 32 bytes, got ${privateKey.length}`);
    if (peerPublicKey.length !== 32) throw new CryptoError("invalid-point", `x25519 public key must be 32 bytes, got ${peerPublicKey.length}`);
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(privateKey, peerPublicKey);
    } catch (error) {
      // noble refuses an all-zero result (a low-order peer point), as RFC 7748 §6.1 allows and RFC 8446 §7.4.2 requires.
      throw new CryptoError("invalid-point", `x25519 peer public key rejected (${(error as Error).message})`);
    }
    let any = 0;
    for (let i = 0; i < shared.length; i++) any |= shared[i]!;
    if (any === 0) throw new CryptoError("invalid-point", "x25519 shared secret is all zero (low-order peer public key)");
    return shared;
  }
  const size = FIELD_BYTES[group];
  if (size === undefined) throw new CryptoError("unsupported", `unsupported ECDH group ${String(group)}`);
  const curve = weierstrass(group);
  // RFC 8446 §4.2.8.2: only the uncompressed form is allowed in TLS 1.3 key shares.
  if (peerPublicKey.length !== 1 + 2 * size || peerPublicKey[0] !== 0x04) {
    throw new CryptoError("invalid-point", `${group} public key must be an uncompressed point of ${1 + 2 * size} bytes`);
  }
  const peer = parsePoint(group, peerPublicKey, `${group} peer public key`);
  if (!curve.utils.isValidSecretKey(privateKey)) throw new CryptoError("invalid-key", `${group} private key is not a valid scalar`);
  const shared = peer.multiply(bytesToScalar(privateKey));
  if (shared.is0()) throw new CryptoError("invalid-point", `${group} shared point is the point at infinity`);
  return shared.toBytes(false).slice(1, 1 + size);
}

function bytesToScalar(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < bytes.length; i++) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/**
 * Signature verification (provider.ts contract) on @noble/curves and the RSA module, with the
 * message hashed by `hashMessage`: this provider's hashes, or another provider's (the native one).
 */
export function verifyWithHash(
  hashMessage: (algorithm: HashName, data: Uint8Array) => Uint8Array,
  algorithm: SignatureAlgorithm,
  key: PublicKey,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  hashFor(algorithm.hash);
  if (algorithm.kind === "ecdsa") {
    if (key.kind !== "ec") throw new CryptoError("unsupported", `ECDSA signature with an ${key.kind.toUpperCase()} key`);
    const curve = weierstrass(key.curve);
    parsePoint(key.curve, key.point, "ECDSA public key");
    let raw: Uint8Array;
    try {
      raw = ecdsaDerToRaw(signature, FIELD_BYTES[key.curve]);
    } catch {
      return false; // not a strict DER Ecdsa-Sig-Value
    }
    const digest = hashMessage(algorithm.hash, message);
    try {
      // lowS: false — X.509 and TLS signers (openssl) do not normalise s; prehash: false — we hashed.
      return curve.verify(raw, digest, key.point, { prehash: false, lowS: false, format: "compact" });
    } catch {
      return false; // r or s zero or ≥ n
    }
  }
  if (algorithm.kind === "rsa-pkcs1" || algorithm.kind === "rsa-pss") {
    if (key.kind !== "rsa") throw new CryptoError("unsupported", `RSA signature with an ${key.kind.toUpperCase()} key`);
    const rsaKey = rsaPublicKey(key.modulus, key.exponent);
    return algorithm.kind === "rsa-pkcs1"
      ? verifyPkcs1v15(hashMessage, algorithm.hash, rsaKey, message, signature)
      : verifyPss(hashMessage, algorithm.hash, rsaKey, message, signature);
  }
  throw new CryptoError("unsupported", `unsupported signature algorithm ${String((algorithm as SignatureAlgorithm).kind)}`);
}

export function createNobleProvider(): CryptoProvider {
  return {
    name: "noble",
    createHash: (algorithm) => new NobleHashState(algorithm, hashFor(algorithm).create() as unknown as NobleHashInstance),
    hash,
    hmac: (algorithm, key, data) => hmacNoble(hashFor(algorithm), key, data),
    hkdfExtract: (algorithm, salt, ikm) => hkdfExtractNoble(hashFor(algorithm), ikm, salt),
    hkdfExpand(algorithm, prk, info, length) {
      const hLen = HASH_LENGTH[algorithm];
      if (!Number.isInteger(length) || length < 0 || length > 255 * hLen) {
        throw new CryptoError("invalid-argument", `HKDF-Expand length ${length} is outside 0..${255 * hLen}`);
      }
      if (prk.length < hLen) throw new CryptoError("invalid-key", `HKDF-Expand PRK of ${prk.length} bytes is shorter than ${hLen}`);
      if (length === 0) return new Uint8Array(0);
      return hkdfExpandNoble(hashFor(algorithm), prk, info, length);
    },
    aeadSeal: (algorithm, key, nonce, plaintext, aad) => aeadCipher(algorithm, key, nonce, aad).encrypt(plaintext),
    aeadOpen(algorithm, key, nonce, sealed, aad) {
      const cipher = aeadCipher(algorithm, key, nonce, aad);
      if (sealed.length < AEAD_TAG_LENGTH) throw new AeadAuthError(`${algorithm} input of ${sealed.length} bytes is shorter than the tag`);
      try {
        return cipher.decrypt(sealed);
      } catch {
        throw new AeadAuthError(`${algorithm} authentication failed`);
      }
    },
    ecdhSeedLength: seedLength,
    ecdhKeyPair,
    ecdhSharedSecret,
    verify: (algorithm, key, message, signature) => verifyWithHash(hash, algorithm, key, message, signature),
  };
}

/** A shared instance (the provider holds no state). */
export const nobleCrypto: CryptoProvider = createNobleProvider();

/** SHA-256 of `data` — a shortcut for callers that need nothing else (the IoT SAFE client). */
export const sha256Digest = (data: Uint8Array): Uint8Array => sha256(data);
