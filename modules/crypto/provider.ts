/**
 * The crypto provider interface: every primitive the TLS client, the IoT SAFE client and X.509
 * path validation need, and nothing else. The portable implementation is `noble-provider.ts`;
 * a native one (Moddable `crypt` modules on the device) can sit behind the same interface.
 *
 * Conventions:
 * - Bytes are Uint8Array; inputs are never modified; outputs are fresh arrays the caller owns.
 * - Randomness is never drawn inside the provider: callers pass bytes (or a source) from the Platform.
 * - Hostile input from a peer (points, signatures, ciphertexts) never throws anything but CryptoError
 *   (or returns false from a verify); programmer errors (unknown algorithm names) throw CryptoError too.
 */

/** Hash functions. SHA-512 is there for RSA certificates signed with it. */
export type HashName = "sha256" | "sha384" | "sha512";

/** Output sizes in bytes (fixed by FIPS 180-4). */
export const HASH_LENGTH: Readonly<Record<HashName, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** Why a crypto operation refused its input. */
export type CryptoErrorReason =
  | "auth-failed" // AEAD tag mismatch: the record was forged or corrupted
  | "invalid-point" // peer ECDH share or EC public key not on the curve / wrong size / identity
  | "invalid-key" // a key of the wrong length or form (RSA modulus, AEAD key, private scalar)
  | "invalid-argument" // a bad length for a nonce, HKDF output, random seed...
  | "unsupported"; // an algorithm or combination this provider does not implement

export class CryptoError extends Error {
  override name = "CryptoError";
  constructor(
    readonly reason: CryptoErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown by `aeadOpen` when the tag does not verify. A subclass so `instanceof CryptoError` still works. */
export class AeadAuthError extends CryptoError {
  override name = "AeadAuthError";
  constructor(message = "AEAD authentication failed") {
    super("auth-failed", message);
  }
}

/**
 * A running hash. `clone()` forks it (TLS takes transcript hashes at several points).
 * Note for a native provider: Moddable's `Digest` has no clone, so one would keep a small JS hash
 * for transcripts (or replay buffered input) and use native digests for one-shot hashing.
 */
export interface HashState {
  readonly algorithm: HashName;
  /** Digest size in bytes. */
  readonly outputLength: number;
  /** Internal block size in bytes (64 for SHA-256, 128 for SHA-384/512). */
  readonly blockLength: number;
  /** Feeds more data; returns this for chaining. Throws CryptoError after digest(). */
  update(data: Uint8Array): HashState;
  /** Finishes the hash; the state cannot be updated afterwards (clone first to keep going). */
  digest(): Uint8Array;
  /** An independent copy of the running state. */
  clone(): HashState;
}

export type AeadName = "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305";

/** Key sizes in bytes; all three use 12-byte nonces and 16-byte tags. */
export const AEAD_KEY_LENGTH: Readonly<Record<AeadName, number>> = { "aes-128-gcm": 16, "aes-256-gcm": 32, "chacha20-poly1305": 32 };
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;

/** The argument checks every provider's aeadSeal/aeadOpen makes before any cipher work. */
export function checkAeadArguments(algorithm: AeadName, key: Uint8Array, nonce: Uint8Array): void {
  const keyLength = AEAD_KEY_LENGTH[algorithm];
  if (keyLength === undefined) throw new CryptoError("unsupported", `unsupported AEAD ${String(algorithm)}`);
  if (key.length !== keyLength) throw new CryptoError("invalid-key", `${algorithm} key must be ${keyLength} bytes, got ${key.length}`);
  if (nonce.length !== AEAD_NONCE_LENGTH) throw new CryptoError("invalid-argument", `${algorithm} nonce must be ${AEAD_NONCE_LENGTH} bytes, got ${nonce.length}`);
}

/** Key-exchange groups (TLS names: secp256r1 = 0x0017, secp384r1 = 0x0018, x25519 = 0x001d). */
export type EcdhGroup = "secp256r1" | "secp384r1" | "x25519";

/** An ephemeral key pair. `publicKey` is in the TLS key_share form:
 *  uncompressed SEC1 point (0x04‖X‖Y) for the NIST curves, 32 raw bytes for x25519. */
export interface EcdhKeyPair {
  readonly group: EcdhGroup;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A source of random bytes, e.g. `(n) => platform.randomBytes(n)`. */
export type RandomSource = (count: number) => Uint8Array;

/** Curves for EC signature keys. */
export type EcCurve = "secp256r1" | "secp384r1";

/** A public key as it comes out of a SubjectPublicKeyInfo. */
export type PublicKey =
  | {
      kind: "ec";
      curve: EcCurve;
      /** SEC1 point, uncompressed (0x04‖X‖Y) or compressed. */
      point: Uint8Array;
    }
  | {
      kind: "rsa";
      /** Unsigned big-endian magnitudes (no sign octet). */
      modulus: Uint8Array;
      exponent: Uint8Array;
    };

/**
 * A signature algorithm: the padding/scheme and its hash. For ECDSA the curve comes from the key
 * (X.509 allows e.g. ecdsa-with-SHA256 under a P-384 key; TLS 1.3 pins the pair — see TLS_SIGNATURE_SCHEMES).
 * ECDSA signatures are DER `Ecdsa-Sig-Value`. RSA-PSS uses MGF1 with the same hash and a salt of the
 * hash length (as TLS 1.3 and nearly all certificates do).
 */
export interface SignatureAlgorithm {
  kind: "ecdsa" | "rsa-pkcs1" | "rsa-pss";
  hash: HashName;
}

/** TLS SignatureScheme code points (RFC 8446 §4.2.3) the provider can verify, with the curve TLS 1.3 requires. */
export const TLS_SIGNATURE_SCHEMES: Readonly<Record<number, { name: string; algorithm: SignatureAlgorithm; curve?: EcCurve }>> = {
  0x0403: { name: "ecdsa_secp256r1_sha256", algorithm: { kind: "ecdsa", hash: "sha256" }, curve: "secp256r1" },
  0x0503: { name: "ecdsa_secp384r1_sha384", algorithm: { kind: "ecdsa", hash: "sha384" }, curve: "secp384r1" },
  0x0804: { name: "rsa_pss_rsae_sha256", algorithm: { kind: "rsa-pss", hash: "sha256" } },
  0x0805: { name: "rsa_pss_rsae_sha384", algorithm: { kind: "rsa-pss", hash: "sha384" } },
  0x0806: { name: "rsa_pss_rsae_sha512", algorithm: { kind: "rsa-pss", hash: "sha512" } },
  0x0401: { name: "rsa_pkcs1_sha256", algorithm: { kind: "rsa-pkcs1", hash: "sha256" } },
  0x0501: { name: "rsa_pkcs1_sha384", algorithm: { kind: "rsa-pkcs1", hash: "sha384" } },
  0x0601: { name: "rsa_pkcs1_sha512", algorithm: { kind: "rsa-pkcs1", hash: "sha512" } },
};

export interface CryptoProvider {
  /** A short name for logs ("noble", "moddable-native"...). */
  readonly name: string;

  // ---- hashing ----
  /** A fresh incremental hash. */
  createHash(algorithm: HashName): HashState;
  /** One-shot hash. */
  hash(algorithm: HashName, data: Uint8Array): Uint8Array;

  // ---- HMAC / HKDF (RFC 2104, RFC 5869) ----
  hmac(algorithm: HashName, key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HKDF-Extract: PRK = HMAC(salt, ikm). An empty salt means HashLen zero bytes, as RFC 5869 says. */
  hkdfExtract(algorithm: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  /** HKDF-Expand to `length` bytes (at most 255 × HashLen, else CryptoError "invalid-argument"). */
  hkdfExpand(algorithm: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  // ---- AEAD (RFC 5116 form: output = ciphertext ‖ 16-byte tag) ----
  aeadSeal(algorithm: AeadName, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Verifies and decrypts; throws AeadAuthError on a bad tag (or input shorter than the tag). */
  aeadOpen(algorithm: AeadName, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array;

  // ---- ECDH ----
  /** How many random bytes `ecdhKeyPair` consumes for `group` (extra bytes beyond the scalar size
   *  remove modulo bias for the NIST curves, per FIPS 186-5 A.2.1). */
  ecdhSeedLength(group: EcdhGroup): number;
  /** A key pair from exactly `ecdhSeedLength(group)` random bytes, or from a random source. */
  ecdhKeyPair(group: EcdhGroup, random: Uint8Array | RandomSource): EcdhKeyPair;
  /**
   * The shared secret with a peer's public share (TLS form, see EcdhKeyPair). The peer point is
   * validated: wrong size, not on the curve, or the identity → CryptoError "invalid-point"; an
   * all-zero x25519 result (low-order peer point) → "invalid-point" too.
   * Result: the x-coordinate for NIST curves (32/48 bytes), 32 bytes for x25519 (RFC 8446 §7.4).
   */
  ecdhSharedSecret(group: EcdhGroup, privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;

  // ---- signature verification ----
  /**
   * True when `signature` is a valid signature of `message` (the message, not its digest: the
   * provider hashes with `algorithm.hash`) under `key`. Returns false for any signature that does not
   * verify, including malformed encodings. Throws CryptoError "invalid-key"/"invalid-point" for an
   * unusable public key, "unsupported" for an algorithm/key mismatch (ECDSA with an RSA key...).
   */
  verify(algorithm: SignatureAlgorithm, key: PublicKey, message: Uint8Array, signature: Uint8Array): boolean;
}
