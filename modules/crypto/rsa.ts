/**
 * RSA signature verification (RFC 8017) with BigInt: RSASSA-PKCS1-v1_5 and RSASSA-PSS.
 * Verification only, so only public-key arithmetic: no secrets, no timing concerns.
 * Strict by design: the signature must be exactly the modulus length, PKCS#1 v1.5 is checked by
 * re-encoding the expected block and comparing bytes (no parsing of attacker-controlled ASN.1),
 * and PSS requires MGF1 with the message hash and a salt of the hash length (as TLS 1.3 does).
 */
import { bytesEqual, concatBytes } from "../bytes/bytes.js";
import { CryptoError, HASH_LENGTH, type HashName } from "./provider.js";

/** Refused outside this range: smaller keys are broken, larger ones would stall the device. */
export const RSA_MIN_MODULUS_BITS = 2048;
export const RSA_MAX_MODULUS_BITS = 8192;

export type HashFunction = (algorithm: HashName, data: Uint8Array) => Uint8Array;

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < bytes.length; i++) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** I2OSP: `value` as exactly `length` big-endian bytes, or undefined when it does not fit. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array | undefined {
  const out = new Uint8Array(length);
  let n = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return n === 0n ? out : undefined;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** base^exponent mod modulus by left-to-right square-and-multiply. */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  const bits = exponent.toString(2);
  const b = base % modulus;
  for (let i = 0; i < bits.length; i++) {
    result = (result * result) % modulus;
    if (bits.charCodeAt(i) === 49) result = (result * b) % modulus;
  }
  return result;
}

/** A checked RSA public key. */
export interface RsaPublicKey {
  n: bigint;
  e: bigint;
  /** Modulus size in bytes (k in RFC 8017). */
  byteLength: number;
  bits: number;
}

export function rsaPublicKey(modulus: Uint8Array, exponent: Uint8Array): RsaPublicKey {
  const n = bytesToBigInt(modulus);
  const e = bytesToBigInt(exponent);
  const bits = bitLength(n);
  if (bits < RSA_MIN_MODULUS_BITS || bits > RSA_MAX_MODULUS_BITS) {
    throw new CryptoError("invalid-key", `RSA modulus of ${bits} bits is outside ${RSA_MIN_MODULUS_BITS}..${RSA_MAX_MODULUS_BITS}`);
  }
  if ((n & 1n) === 0n) throw new CryptoError("invalid-key", "RSA modulus is even");
  if (e < 3n || (e & 1n) === 0n || e >= n || bitLength(e) > 256) {
    throw new CryptoError("invalid-key", `RSA public exponent ${e.toString()} is not usable`);
  }
  return { n, e, byteLength: Math.ceil(bits / 8), bits };
}

/** RSAVP1: the signature representative raised to e, or undefined for a signature of the wrong size or ≥ n. */
function rsavp1(key: RsaPublicKey, signature: Uint8Array): bigint | undefined {
  if (signature.length !== key.byteLength) return undefined;
  const s = bytesToBigInt(signature);
  if (s >= key.n) return undefined;
  return modPow(s, key.e, key.n);
}

/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1): SEQUENCE { AlgorithmIdentifier { oid, NULL }, OCTET STRING }. */
const DIGEST_INFO_PREFIX: Record<HashName, number[]> = {
  sha256: [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20],
  sha384: [0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30],
  sha512: [0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40],
};

/** RSASSA-PKCS1-v1_5-VERIFY (RFC 8017 §8.2.2): EMSA-PKCS1-v1_5 encoding of the message, compared whole. */
export function verifyPkcs1v15(hash: HashFunction, algorithm: HashName, key: RsaPublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  const m = rsavp1(key, signature);
  if (m === undefined) return false;
  const em = bigIntToBytes(m, key.byteLength);
  if (!em) return false;
  const t = concatBytes(Uint8Array.from(DIGEST_INFO_PREFIX[algorithm]), hash(algorithm, message));
  if (key.byteLength < t.length + 11) return false;
  const expected = new Uint8Array(key.byteLength);
  expected[1] = 0x01;
  expected.fill(0xff, 2, key.byteLength - t.length - 1);
  expected[key.byteLength - t.length - 1] = 0x00;
  expected.set(t, key.byteLength - t.length);
  return bytesEqual(em, expected);
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: HashFunction, algorithm: HashName, seed: Uint8Array, length: number): Uint8Array {
  const hLen = HASH_LENGTH[algorithm];
  const out = new Uint8Array(Math.ceil(length / hLen) * hLen);
  const input = new Uint8Array(seed.length + 4);
  input.set(seed);
  for (let counter = 0; counter * hLen < length; counter++) {
    input[seed.length] = counter >>> 24;
    input[seed.length + 1] = (counter >>> 16) & 0xff;
    input[seed.length + 2] = (counter >>> 8) & 0xff;
    input[seed.length + 3] = counter & 0xff;
    out.set(hash(algorithm, input), counter * hLen);
  }
  return out.subarray(0, length);
}

/** RSASSA-PSS-VERIFY (RFC 8017 §8.1.2 with EMSA-PSS-VERIFY §9.1.2), MGF1 with `algorithm`, sLen = hLen. */
export function verifyPss(hash: HashFunction, algorithm: HashName, key: RsaPublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  const m = rsavp1(key, signature);
  if (m === undefined) return false;
  const emBits = key.bits - 1;
  const emLen = Math.ceil(emBits / 8);
  const em = bigIntToBytes(m, emLen);
  if (!em) return false;
  const hLen = HASH_LENGTH[algorithm];
  const sLen = hLen;
  // Step 3: emLen < hLen + sLen + 2 → inconsistent.
  if (emLen < hLen + sLen + 2) return false;
  // Step 4: the rightmost octet must be 0xbc.
  if (em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  // Step 6: the leftmost 8·emLen − emBits bits of maskedDB must be zero.
  const unusedBits = 8 * emLen - emBits;
  const topMask = (0xff << (8 - unusedBits)) & 0xff;
  if ((maskedDb[0]! & topMask) !== 0) return false;
  const dbMask = mgf1(hash, algorithm, h, maskedDb.length);
  const db = new Uint8Array(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = maskedDb[i]! ^ dbMask[i]!;
  db[0] = db[0]! & (0xff >> unusedBits);
  // Step 10: PS (zeros) then 0x01, then the salt.
  const psLength = emLen - hLen - sLen - 2;
  for (let i = 0; i < psLength; i++) if (db[i] !== 0) return false;
  if (db[psLength] !== 0x01) return false;
  const salt = db.subarray(db.length - sLen);
  const mPrime = concatBytes(new Uint8Array(8), hash(algorithm, message), salt);
  return bytesEqual(hash(algorithm, mPrime), h);
}
