/**
 * The handshake transcript hash (RFC 8446 §4.4.1). The hash function is known only once the
 * server picks a cipher suite, so ClientHello bytes are held until then; after that the
 * transcript is a running hash, never a growing buffer (the certificate chain is not kept twice).
 */
import type { CryptoProvider, HashName, HashState } from "../crypto/provider.js";
import { encodeMessageHash } from "./messages.js";

export class Transcript {
  #pending: Uint8Array[] = [];
  #state: HashState | undefined;

  constructor(readonly provider: CryptoProvider) {}

  get hashName(): HashName | undefined {
    return this.#state?.algorithm;
  }

  /** Adds one complete handshake message (header included). */
  add(message: Uint8Array): void {
    if (this.#state) this.#state.update(message);
    else this.#pending.push(message);
  }

  /** Fixes the hash function; held messages are hashed now. */
  start(hash: HashName): void {
    if (this.#state) {
      if (this.#state.algorithm !== hash) throw new Error(`transcript already uses ${this.#state.algorithm}, not ${hash}`);
      return;
    }
    this.#state = this.provider.createHash(hash);
    for (const m of this.#pending) this.#state.update(m);
    this.#pending = [];
  }

  /** Transcript-Hash of everything added so far. */
  hash(): Uint8Array {
    if (!this.#state) throw new Error("transcript hash requested before the hash function is known");
    return this.#state.clone().digest();
  }

  /**
   * Transcript-Hash under `hash` of everything added so far followed by `extra`, without adding it:
   * the hash a PSK binder covers (the ClientHello up to its binders). Before the hash function is
   * fixed any `hash` may be asked for; after, only the transcript's own.
   */
  hashWith(hash: HashName, extra: Uint8Array): Uint8Array {
    if (this.#state) {
      if (this.#state.algorithm !== hash) throw new Error(`transcript uses ${this.#state.algorithm}, not ${hash}`);
      const state = this.#state.clone();
      state.update(extra);
      return state.digest();
    }
    const state = this.provider.createHash(hash);
    for (const m of this.#pending) state.update(m);
    state.update(extra);
    return state.digest();
  }

  /**
   * After a HelloRetryRequest: ClientHello1 is replaced by message_hash(Hash(ClientHello1)).
   * Call with only ClientHello1 added so far, before adding the HelloRetryRequest.
   */
  replaceWithMessageHash(hash: HashName): void {
    if (this.#state) throw new Error("message_hash substitution must happen before the transcript hash starts");
    const state = this.provider.createHash(hash);
    for (const m of this.#pending) state.update(m);
    this.#pending = [encodeMessageHash(state.digest())];
  }
}
