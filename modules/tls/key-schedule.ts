/**
 * The TLS 1.3 key schedule (RFC 8446 §7.1-7.3) on top of the provider's HKDF: HKDF-Expand-Label,
 * Derive-Secret, the Early / Handshake / Master secret chain, traffic keys and IVs, Finished keys,
 * KeyUpdate ("traffic upd"), the resumption PSK and its binder key. The early secret is
 * HKDF-Extract(0, PSK) when the server accepted a resumption PSK, else HKDF-Extract(0, 0).
 */
import { asciiToBytes, concatBytes } from "../bytes/bytes.js";
import type { CryptoProvider, HashName } from "../crypto/provider.js";
import { HASH_LENGTH } from "../crypto/provider.js";
import { u16, u8 } from "./codec.js";
import type { CipherSuiteInfo } from "./constants.js";

const LABEL_PREFIX = asciiToBytes("tls13 ");

/** HKDF-Expand-Label(Secret, Label, Context, Length) with HkdfLabel = length ‖ "tls13 "+label ‖ context. */
export function hkdfExpandLabel(
  provider: CryptoProvider,
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const fullLabel = concatBytes(LABEL_PREFIX, asciiToBytes(label));
  const info = concatBytes(u16(length), u8(fullLabel.length), fullLabel, u8(context.length), context);
  return provider.hkdfExpand(hash, secret, info, length);
}

/** Derive-Secret(Secret, Label, Messages) where the caller passes Transcript-Hash(Messages). */
export function deriveSecret(provider: CryptoProvider, hash: HashName, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return hkdfExpandLabel(provider, hash, secret, label, transcriptHash, HASH_LENGTH[hash]);
}

export interface TrafficKeys {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
}

/** [sender]_write_key and [sender]_write_iv from a traffic secret (RFC 8446 §7.3). */
export function trafficKeys(provider: CryptoProvider, suite: CipherSuiteInfo, secret: Uint8Array): TrafficKeys {
  return {
    key: hkdfExpandLabel(provider, suite.hash, secret, "key", new Uint8Array(0), suite.keyLength),
    iv: hkdfExpandLabel(provider, suite.hash, secret, "iv", new Uint8Array(0), 12),
  };
}

/** verify_data = HMAC(finished_key, Transcript-Hash(...)) with finished_key from the base key (RFC 8446 §4.4.4). */
export function finishedVerifyData(provider: CryptoProvider, hash: HashName, baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  const finishedKey = hkdfExpandLabel(provider, hash, baseKey, "finished", new Uint8Array(0), HASH_LENGTH[hash]);
  return provider.hmac(hash, finishedKey, transcriptHash);
}

/** application_traffic_secret_N+1 (RFC 8446 §7.2). */
export function nextTrafficSecret(provider: CryptoProvider, hash: HashName, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(provider, hash, secret, "traffic upd", new Uint8Array(0), HASH_LENGTH[hash]);
}

/** The PSK a ticket stands for (RFC 8446 §4.6.1). */
export function resumptionPsk(provider: CryptoProvider, hash: HashName, resumptionMasterSecret: Uint8Array, ticketNonce: Uint8Array): Uint8Array {
  return hkdfExpandLabel(provider, hash, resumptionMasterSecret, "resumption", ticketNonce, HASH_LENGTH[hash]);
}

export interface HandshakeSecrets {
  readonly clientHandshakeTrafficSecret: Uint8Array;
  readonly serverHandshakeTrafficSecret: Uint8Array;
}

export interface ApplicationSecrets {
  readonly clientApplicationTrafficSecret: Uint8Array;
  readonly serverApplicationTrafficSecret: Uint8Array;
  readonly exporterMasterSecret: Uint8Array;
}

/**
 * The secret chain of one connection. Each stage is computed once, in order; intermediate
 * secrets are dropped as soon as the next stage no longer needs them.
 */
export class KeySchedule {
  readonly hashLength: number;
  #handshakeSecret: Uint8Array | undefined;
  #masterSecret: Uint8Array | undefined;

  readonly #psk: Uint8Array | undefined;

  /** `psk`: the resumption PSK the server accepted; without one the early secret starts from zeros. */
  constructor(
    readonly provider: CryptoProvider,
    readonly hash: HashName,
    psk?: Uint8Array,
  ) {
    this.hashLength = HASH_LENGTH[hash];
    if (psk !== undefined && psk.length !== this.hashLength) throw new Error(`key schedule: a ${hash} PSK has ${this.hashLength} bytes, not ${psk.length}`);
    this.#psk = psk;
  }

  /** Early Secret = HKDF-Extract(salt 0, IKM = PSK, or zeros when no PSK is used). */
  earlySecret(): Uint8Array {
    return this.provider.hkdfExtract(this.hash, new Uint8Array(0), this.#psk ?? new Uint8Array(this.hashLength));
  }

  /** binder_key = Derive-Secret(Early Secret, "res binder", "") for a resumption PSK (RFC 8446 §7.1). */
  binderKey(): Uint8Array {
    if (!this.#psk) throw new Error("key schedule: binderKey() without a PSK");
    return deriveSecret(this.provider, this.hash, this.earlySecret(), "res binder", this.#emptyHash());
  }

  #emptyHash(): Uint8Array {
    return this.provider.hash(this.hash, new Uint8Array(0));
  }

  /** Handshake Secret from the (EC)DHE shared secret; returns the two handshake traffic secrets. */
  handshake(sharedSecret: Uint8Array, helloHash: Uint8Array): HandshakeSecrets {
    const derived = deriveSecret(this.provider, this.hash, this.earlySecret(), "derived", this.#emptyHash());
    this.#handshakeSecret = this.provider.hkdfExtract(this.hash, derived, sharedSecret);
    return {
      clientHandshakeTrafficSecret: deriveSecret(this.provider, this.hash, this.#handshakeSecret, "c hs traffic", helloHash),
      serverHandshakeTrafficSecret: deriveSecret(this.provider, this.hash, this.#handshakeSecret, "s hs traffic", helloHash),
    };
  }

  /** The handshake secret (for tests against published vectors). */
  get handshakeSecret(): Uint8Array | undefined {
    return this.#handshakeSecret;
  }

  get masterSecret(): Uint8Array | undefined {
    return this.#masterSecret;
  }

  /** Master Secret and the application traffic secrets, from Transcript-Hash(ClientHello..server Finished). */
  application(serverFinishedHash: Uint8Array): ApplicationSecrets {
    if (!this.#handshakeSecret) throw new Error("key schedule: application() before handshake()");
    const derived = deriveSecret(this.provider, this.hash, this.#handshakeSecret, "derived", this.#emptyHash());
    this.#masterSecret = this.provider.hkdfExtract(this.hash, derived, new Uint8Array(this.hashLength));
    this.#handshakeSecret = undefined;
    return {
      clientApplicationTrafficSecret: deriveSecret(this.provider, this.hash, this.#masterSecret, "c ap traffic", serverFinishedHash),
      serverApplicationTrafficSecret: deriveSecret(this.provider, this.hash, this.#masterSecret, "s ap traffic", serverFinishedHash),
      exporterMasterSecret: deriveSecret(this.provider, this.hash, this.#masterSecret, "exp master", serverFinishedHash),
    };
  }

  /** resumption_master_secret from Transcript-Hash(ClientHello..client Finished); the master secret is then dropped. */
  resumption(clientFinishedHash: Uint8Array): Uint8Array {
    if (!this.#masterSecret) throw new Error("key schedule: resumption() before application()");
    const secret = deriveSecret(this.provider, this.hash, this.#masterSecret, "res master", clientFinishedHash);
    this.#masterSecret = undefined;
    return secret;
  }
}
