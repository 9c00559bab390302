/**
 * A crypto provider on Moddable's native `crypt` module (the SDK's C crypto library; the same code
 * on ESP32 and in the desktop simulator): SHA-256/384/512 digests, HMAC and HKDF over them, and
 * AES-GCM built from the native AES block cipher, CTR mode and GHASH. What the SDK has no native
 * code for — ChaCha20-Poly1305 (no Poly1305), X25519, and the P-256/P-384 and RSA public-key
 * operations (the SDK's own EC code is JS orchestration too) — goes to a fallback provider, by
 * default the portable noble one.
 *
 * The `crypt` module is passed in rather than imported, so this file stays host-neutral: the
 * device passes `import * as crypt from "crypt"`; tests pass an emulation or, in the Moddable
 * simulator, the real module.
 *
 * Native calls take ArrayBuffers (several read their arguments with xsmcToArrayBuffer), so inputs
 * are copied into fresh, aligned ArrayBuffers first; the SDK's GHASH pads every write to a whole
 * block, so each GHASH input is written in one call.
 */
import { nobleCrypto } from "./noble-provider.js";
import {
  AEAD_KEY_LENGTH,
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  AeadAuthError,
  CryptoError,
  HASH_LENGTH,
  type AeadName,
  type CryptoProvider,
  type HashName,
  type HashState,
} from "./provider.js";

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

/** The parts of Moddable's `crypt` module this provider uses (modules/crypt/digest/crypt.js). */
export interface ModdableCrypt {
  Digest: new (algorithm: string) => NativeDigest;
  BlockCipher: new (algorithm: string, key: ArrayBuffer) => NativeBlockCipher;
  Mode: new (mode: string, cipher: NativeBlockCipher, iv?: ArrayBuffer) => NativeMode;
  GHASH: new (h: ArrayBuffer, aad?: ArrayBuffer) => NativeDigest;
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
 * A running native hash. The native Digest cannot be copied, so the state remembers its input: a
 * clone replays it into a new Digest. The TLS transcript only ever takes `clone().digest()`; that
 * case costs nothing extra, because the fork asks its parent for the digest so far (`close(true)`)
 * as long as neither has been updated since the fork.
 */
class NativeHashState implements HashState {
  readonly outputLength: number;
  readonly blockLength: number;
  #native: NativeDigest | undefined;
  readonly #input: Uint8Array[];
  #finished = false;
  /** Bumped on each update, so a fork can tell that its parent has moved on. */
  #generation = 0;
  /** While set, this state is an unmodified fork of `parent` taken at `generation`. */
  #forkedFrom: { parent: NativeHashState; generation: number } | undefined;

  constructor(
    readonly algorithm: HashName,
    private readonly crypt: ModdableCrypt,
    input: Uint8Array[] = [],
  ) {
    this.outputLength = HASH_LENGTH[algorithm];
    this.blockLength = BLOCK_LENGTH[algorithm];
    this.#input = input;
    if (input.length === 0) this.#native = new crypt.Digest(hashName(algorithm));
  }

  #check(what: string): void {
    if (this.#finished) throw new CryptoError("invalid-argument", `${this.algorithm} hash ${what} after digest()`);
  }

  /** The native digest, replaying the remembered input when this state was forked. */
  #digestObject(): NativeDigest {
    if (!this.#native) {
      const native = new this.crypt.Digest(hashName(this.algorithm));
      for (const piece of this.#input) native.write(piece.buffer as ArrayBuffer);
      this.#native = native;
    }
    this.#forkedFrom = undefined;
    return this.#native;
  }

  update(data: Uint8Array): HashState {
    this.#check("updated");
    const piece = new Uint8Array(buffer(data));
    this.#digestObject().write(piece.buffer as ArrayBuffer);
    this.#input.push(piece);
    this.#generation++;
    return this;
  }

  digest(): Uint8Array {
    if (this.#finished) throw new CryptoError("invalid-argument", `${this.algorithm} digest() called twice`);
    this.#finished = true;
    const fork = this.#forkedFrom;
    if (fork && !fork.parent.#finished && fork.parent.#generation === fork.generation && fork.parent.#native) {
      this.#forkedFrom = undefined;
      return new Uint8Array(fork.parent.#native.close(true));
    }
    const result = new Uint8Array(this.#digestObject().close());
    this.#input.length = 0;
    return result;
  }

  clone(): HashState {
    this.#check("cloned");
    const fork = new NativeHashState(this.algorithm, this.crypt, this.#input.slice());
    if (this.#input.length > 0) fork.#forkedFrom = { parent: this, generation: this.#generation };
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

function checkAead(algorithm: AeadName, key: Uint8Array, nonce: Uint8Array): void {
  const keyLength = AEAD_KEY_LENGTH[algorithm];
  if (keyLength === undefined) throw new CryptoError("unsupported", `unsupported AEAD ${String(algorithm)}`);
  if (key.length !== keyLength) throw new CryptoError("invalid-key", `${algorithm} key must be ${keyLength} bytes, got ${key.length}`);
  if (nonce.length !== AEAD_NONCE_LENGTH) throw new CryptoError("invalid-argument", `${algorithm} nonce must be ${AEAD_NONCE_LENGTH} bytes, got ${nonce.length}`);
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

export function createNativeProvider(crypt: ModdableCrypt, fallback: CryptoProvider = nobleCrypto): CryptoProvider {
  const hmac = (algorithm: HashName, key: Uint8Array, data: Uint8Array) => nativeHmac(crypt, algorithm, key, data);
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
      checkAead(algorithm, key, nonce);
      const gcm = new NativeGcm(crypt, key, nonce);
      const ciphertext = gcm.ctr(plaintext);
      const sealed = new Uint8Array(ciphertext.length + AEAD_TAG_LENGTH);
      sealed.set(ciphertext);
      sealed.set(gcm.tag(aad, ciphertext), ciphertext.length);
      return sealed;
    },
    aeadOpen(algorithm, key, nonce, sealed, aad) {
      if (algorithm === "chacha20-poly1305") return fallback.aeadOpen(algorithm, key, nonce, sealed, aad);
      checkAead(algorithm, key, nonce);
      if (sealed.length < AEAD_TAG_LENGTH) throw new AeadAuthError(`${algorithm} input of ${sealed.length} bytes is shorter than the tag`);
      const gcm = new NativeGcm(crypt, key, nonce);
      const ciphertext = sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH);
      if (!tagsEqual(gcm.tag(aad, ciphertext), sealed.subarray(ciphertext.length))) throw new AeadAuthError(`${algorithm} authentication failed`);
      return gcm.ctr(ciphertext);
    },
    ecdhSeedLength: (group) => fallback.ecdhSeedLength(group),
    ecdhKeyPair: (group, random) => fallback.ecdhKeyPair(group, random),
    ecdhSharedSecret: (group, privateKey, peerPublicKey) => fallback.ecdhSharedSecret(group, privateKey, peerPublicKey),
    verify: (algorithm, key, message, signature) => fallback.verify(algorithm, key, message, signature),
  };
}
