/**
 * Reassembles handshake messages from handshake-record fragments (RFC 8446 §5.1): a message may
 * span several records and a record may hold several messages. Bounded: a message whose declared
 * length exceeds the limit is refused as soon as its header is seen, before its body is buffered.
 */
import { concatBytes } from "../bytes/bytes.js";
import { handshakeName } from "./constants.js";
import { TlsDecodeError } from "./errors.js";
import type { HandshakeMessage } from "./messages.js";

export class HandshakeAssembler {
  #buffer: Uint8Array = new Uint8Array(0);

  constructor(readonly maxMessageLength: number) {}

  /** True when no partial message is held (key changes must fall on message boundaries). */
  get empty(): boolean {
    return this.#buffer.length === 0;
  }

  /** Adds the content of one handshake record. */
  push(fragment: Uint8Array): void {
    this.#buffer = this.#buffer.length === 0 ? fragment.slice() : concatBytes(this.#buffer, fragment);
    this.#checkHeader();
  }

  #checkHeader(): void {
    if (this.#buffer.length < 4) return;
    const length = (this.#buffer[1]! << 16) | (this.#buffer[2]! << 8) | this.#buffer[3]!;
    if (length > this.maxMessageLength) {
      throw new TlsDecodeError(`${handshakeName(this.#buffer[0]!)} message of ${length} bytes exceeds the ${this.maxMessageLength}-byte limit`);
    }
  }

  /** The next complete message, or undefined when more fragments are needed. */
  next(): HandshakeMessage | undefined {
    if (this.#buffer.length < 4) return undefined;
    const type = this.#buffer[0]!;
    const length = (this.#buffer[1]! << 16) | (this.#buffer[2]! << 8) | this.#buffer[3]!;
    if (this.#buffer.length < 4 + length) return undefined;
    const raw = this.#buffer.subarray(0, 4 + length);
    const rest = this.#buffer.subarray(4 + length);
    // The message keeps its own copy; the remainder moves to a fresh buffer so the old one can be freed.
    const message: HandshakeMessage = { type, body: raw.subarray(4), raw };
    this.#buffer = rest.length > 0 ? rest.slice() : new Uint8Array(0);
    this.#checkHeader();
    return message;
  }
}
