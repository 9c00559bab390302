/**
 * The cryptography the virtual applet performs: P-256 (noble), SHA-2 and HMAC (node:crypto),
 * the TLS 1.2 PRF, HKDF-Extract, and a SHA-256 that resumes from an intermediate hash value
 * (signature mode 02, "last block", iotsafe.md §2.1).
 */
import { createHash, createHmac } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";

export type HashName = "sha256" | "sha384" | "sha512";

/** Tag 91 bit → hash (iotsafe.md §3.3). */
export const HASH_BY_CODE: Record<number, HashName> = { 0x0001: "sha256", 0x0002: "sha384", 0x0004: "sha512" };
export const HASH_LENGTH: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };

export function hash(name: HashName, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(name);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function hmac(name: HashName, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac(name, key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** TLS 1.2 PRF with SHA-256 (RFC 5246 §5): P_SHA256(secret, label ‖ seed) cut to `length`. */
export function tls12Prf(secret: Uint8Array, labelAndSeed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = labelAndSeed;
  let filled = 0;
  while (filled < length) {
    a = hmac("sha256", secret, a);
    const block = hmac("sha256", secret, a, labelAndSeed);
    const take = Math.min(block.length, length - filled);
    out.set(block.subarray(0, take), filled);
    filled += take;
  }
  return out;
}

/** HKDF-Extract (RFC 5869 §2.2): PRK = HMAC-Hash(salt, IKM). */
export function hkdfExtract(name: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmac(name, salt, ikm);
}

/** PSK pre-master secret (RFC 4279 §2 for plain PSK; RFC 5489 §2 with an ECDHE secret as `other`). */
export function pskPremaster(other: Uint8Array, psk: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + other.length + psk.length);
  out[0] = other.length >> 8;
  out[1] = other.length & 0xff;
  out.set(other, 2);
  out[2 + other.length] = psk.length >> 8;
  out[3 + other.length] = psk.length & 0xff;
  out.set(psk, 4 + other.length);
  return out;
}

// ---- SHA-256 from an intermediate hash value (FIPS 180-4 §6.2) ----

const SHA256_K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The SHA-256 initial hash value H(0) (FIPS 180-4 §5.3.3), as 32 bytes. */
export const SHA256_INITIAL_STATE = Uint8Array.from([
  0x6a, 0x09, 0xe6, 0x67, 0xbb, 0x67, 0xae, 0x85, 0x3c, 0x6e, 0xf3, 0x72, 0xa5, 0x4f, 0xf5, 0x3a, 0x51, 0x0e, 0x52, 0x7f, 0x9b, 0x05,
  0x68, 0x8c, 0x1f, 0x83, 0xd9, 0xab, 0x5b, 0xe0, 0xcd, 0x19,
]);

const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));

/** Runs the SHA-256 compression function over whole 64-byte blocks, updating `state` (8 words). */
function compressBlocks(state: Uint32Array, blocks: Uint8Array): void {
  const w = new Uint32Array(64);
  for (let offset = 0; offset + 64 <= blocks.length; offset += 64) {
    for (let t = 0; t < 16; t++) {
      const i = offset + 4 * t;
      w[t] = ((blocks[i]! << 24) | (blocks[i + 1]! << 16) | (blocks[i + 2]! << 8) | blocks[i + 3]!) >>> 0;
    }
    for (let t = 16; t < 64; t++) {
      const s0 = rotr(w[t - 15]!, 7) ^ rotr(w[t - 15]!, 18) ^ (w[t - 15]! >>> 3);
      const s1 = rotr(w[t - 2]!, 17) ^ rotr(w[t - 2]!, 19) ^ (w[t - 2]! >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, h] = state as unknown as number[] as [number, number, number, number, number, number, number, number];
    for (let t = 0; t < 64; t++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + SHA256_K[t]! + w[t]!) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    const next = [a, b, c, d, e, f, g, h];
    for (let i = 0; i < 8; i++) state[i] = (state[i]! + next[i]!) >>> 0;
  }
}

function stateWords(state: Uint8Array): Uint32Array {
  const words = new Uint32Array(8);
  for (let i = 0; i < 8; i++) words[i] = ((state[4 * i]! << 24) | (state[4 * i + 1]! << 16) | (state[4 * i + 2]! << 8) | state[4 * i + 3]!) >>> 0;
  return words;
}

function stateBytes(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    out[4 * i] = words[i]! >>> 24;
    out[4 * i + 1] = (words[i]! >>> 16) & 0xff;
    out[4 * i + 2] = (words[i]! >>> 8) & 0xff;
    out[4 * i + 3] = words[i]! & 0xff;
  }
  return out;
}

/** The intermediate hash value after hashing whole blocks (`data.length` a multiple of 64) from `state`. */
export function sha256Blocks(state: Uint8Array, data: Uint8Array): Uint8Array {
  if (state.length !== 32 || data.length % 64 !== 0) throw new RangeError("sha256Blocks needs a 32-byte state and whole 64-byte blocks");
  const words = stateWords(state);
  compressBlocks(words, data);
  return stateBytes(words);
}

/**
 * Finishes a SHA-256 whose first `alreadyHashed` bytes (a multiple of 64) left the intermediate
 * hash value `state`: hashes `lastBlock`, pads with the total length, and returns the digest.
 */
export function sha256Resume(state: Uint8Array, alreadyHashed: number, lastBlock: Uint8Array): Uint8Array {
  if (state.length !== 32 || alreadyHashed % 64 !== 0 || alreadyHashed < 0) throw new RangeError("bad SHA-256 intermediate state");
  const totalBits = (alreadyHashed + lastBlock.length) * 8;
  const paddedLength = Math.ceil((lastBlock.length + 9) / 64) * 64;
  const tail = new Uint8Array(paddedLength);
  tail.set(lastBlock);
  tail[lastBlock.length] = 0x80;
  // 64-bit big-endian bit count; totals here stay far below 2^53.
  const high = Math.floor(totalBits / 2 ** 32);
  const low = totalBits >>> 0;
  tail.set([high >>> 24, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff, low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff], paddedLength - 8);
  return sha256Blocks(state, tail);
}

// ---- P-256 ----

export function generateP256(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = p256.utils.randomSecretKey();
  return { privateKey, publicKey: p256.getPublicKey(privateKey, false) };
}

export function p256PublicKey(privateKey: Uint8Array): Uint8Array {
  return p256.getPublicKey(privateKey, false);
}

export function isValidP256Point(point: Uint8Array): boolean {
  return point.length === 65 && point[0] === 0x04 && p256.utils.isValidPublicKey(point, false);
}

export function isValidP256Scalar(scalar: Uint8Array): boolean {
  return scalar.length === 32 && p256.utils.isValidSecretKey(scalar);
}

/** ECDSA over a digest the caller computed; raw r‖s (64 bytes), random nonce mixed in (hedged). */
export function signDigest(privateKey: Uint8Array, digest: Uint8Array): Uint8Array {
  return p256.sign(digest, privateKey, { prehash: false, lowS: false, extraEntropy: true });
}

/** ECDSA verification of raw r‖s or DER over a digest; false on any malformed input. */
export function verifyDigest(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
  try {
    const format = signature.length === 64 ? "compact" : "der";
    return p256.verify(signature, digest, publicKey, { prehash: false, lowS: false, format });
  } catch {
    return false;
  }
}

/** DER Ecdsa-Sig-Value from raw r‖s. */
export function rawSignatureToDer(raw: Uint8Array): Uint8Array {
  return p256.Signature.fromBytes(raw, "compact").toBytes("der");
}

/** ECDH (ECKA-DH, IEEE 1363): the x-coordinate of d·Q. */
export function ecdhX(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return p256.getSharedSecret(privateKey, publicKey, true).subarray(1);
}
