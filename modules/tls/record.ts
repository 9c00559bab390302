/**
 * The TLS 1.3 record layer (RFC 8446 §5): framing, AEAD protection with per-record nonces,
 * inner-plaintext padding removal, size limits (RFC 8449 record_size_limit), and the
 * change_cipher_spec compatibility record. It reads exactly one record at a time from the
 * transport, asking for no more bytes than the record still needs, so it buffers nothing beyond
 * the record being read.
 */
import { concatBytes } from "../bytes/bytes.js";
import { AeadAuthError, AEAD_TAG_LENGTH, type CryptoProvider } from "../crypto/provider.js";
import { ContentType, type CipherSuiteInfo, contentTypeName, MAX_CIPHERTEXT, MAX_PLAINTEXT, RECORD_HEADER_LENGTH } from "./constants.js";
import { TlsBadRecordMacError, TlsClosedError, TlsDecodeError, TlsError, TlsRecordOverflowError, TlsUnexpectedMessageError } from "./errors.js";
import type { TrafficKeys } from "./key-schedule.js";
import type { TlsTransport } from "./transport.js";

/** Sequence numbers beyond this would lose precision as JS numbers; a KeyUpdate is needed long before. */
const MAX_SEQUENCE = 2 ** 48;

/** AEAD protection of one direction under one traffic secret; the sequence number starts at 0. */
export class RecordProtection {
  #sequence = 0;

  constructor(
    readonly provider: CryptoProvider,
    readonly suite: CipherSuiteInfo,
    readonly keys: TrafficKeys,
  ) {}

  get sequence(): number {
    return this.#sequence;
  }

  /** The per-record nonce: the 64-bit sequence number, left-padded, XORed into the IV (RFC 8446 §5.3). */
  #nonce(): Uint8Array {
    if (this.#sequence >= MAX_SEQUENCE) throw new TlsError("record sequence number exhausted; a KeyUpdate was required");
    const nonce = this.keys.iv.slice();
    let n = this.#sequence;
    for (let i = nonce.length - 1; i >= nonce.length - 8 && n > 0; i--) {
      nonce[i]! ^= n % 256;
      n = Math.floor(n / 256);
    }
    this.#sequence++;
    return nonce;
  }

  /** A whole protected record: header ‖ AEAD(content ‖ type ‖ zeros). */
  seal(type: number, content: Uint8Array, padding = 0): Uint8Array {
    const inner = new Uint8Array(content.length + 1 + padding);
    inner.set(content, 0);
    inner[content.length] = type;
    const length = inner.length + AEAD_TAG_LENGTH;
    const header = Uint8Array.of(ContentType.application_data, 0x03, 0x03, length >>> 8, length & 0xff);
    const sealed = this.provider.aeadSeal(this.suite.aead, this.keys.key, this.#nonce(), inner, header);
    return concatBytes(header, sealed);
  }

  /** Decrypts a record body and strips the padding; returns the real content type and content. */
  open(header: Uint8Array, body: Uint8Array): { type: number; content: Uint8Array } {
    let inner: Uint8Array;
    try {
      inner = this.provider.aeadOpen(this.suite.aead, this.keys.key, this.#nonce(), body, header);
    } catch (error) {
      if (error instanceof AeadAuthError) {
        throw new TlsBadRecordMacError(`record ${this.#sequence - 1} failed authentication (bad_record_mac): corrupted or forged`);
      }
      throw error;
    }
    let end = inner.length;
    while (end > 0 && inner[end - 1] === 0) end--;
    if (end === 0) throw new TlsUnexpectedMessageError("protected record has no content type (all padding)");
    return { type: inner[end - 1]!, content: inner.subarray(0, end - 1) };
  }
}

export interface Record {
  readonly type: number;
  readonly content: Uint8Array;
}

export interface RecordCounters {
  bytesSent: number;
  bytesReceived: number;
  recordsSent: number;
  recordsReceived: number;
}

export class RecordLayer {
  #readProtection: RecordProtection | undefined;
  #writeProtection: RecordProtection | undefined;
  /** Largest TLSInnerPlaintext content we accept (our advertised limit, or 2^14). */
  #maxReceiveContent = MAX_PLAINTEXT;
  /** Largest record content we send (the peer's limit and our own cap). */
  #maxSendContent = MAX_PLAINTEXT;
  /** RFC 8446 §5: an unprotected change_cipher_spec is dropped between ClientHello and the peer's Finished. */
  allowChangeCipherSpec = false;
  /** legacy_record_version for plaintext records: 0x0301 for the first ClientHello (RFC 8446 §5.1). */
  plaintextVersion = 0x0301;
  readonly counters: RecordCounters = { bytesSent: 0, bytesReceived: 0, recordsSent: 0, recordsReceived: 0 };

  constructor(
    readonly transport: TlsTransport,
    readonly provider: CryptoProvider,
  ) {}

  setReadProtection(suite: CipherSuiteInfo, keys: TrafficKeys): void {
    this.#readProtection = new RecordProtection(this.provider, suite, keys);
  }

  setWriteProtection(suite: CipherSuiteInfo, keys: TrafficKeys): void {
    this.#writeProtection = new RecordProtection(this.provider, suite, keys);
  }

  get readProtected(): boolean {
    return this.#readProtection !== undefined;
  }

  get writeProtected(): boolean {
    return this.#writeProtection !== undefined;
  }

  /** Content bytes we accept per protected record. */
  set maxReceiveContent(value: number) {
    this.#maxReceiveContent = Math.min(value, MAX_PLAINTEXT);
  }
  get maxReceiveContent(): number {
    return this.#maxReceiveContent;
  }

  /** Content bytes we put in one record. */
  set maxSendContent(value: number) {
    this.#maxSendContent = Math.max(1, Math.min(value, MAX_PLAINTEXT));
  }
  get maxSendContent(): number {
    return this.#maxSendContent;
  }

  async #readExactly(count: number, what: string): Promise<Uint8Array | null> {
    const out = new Uint8Array(count);
    let have = 0;
    while (have < count) {
      const chunk = await this.transport.read(count - have);
      if (chunk === null) {
        if (have === 0 && what === "record header") return null;
        throw new TlsClosedError(`connection closed by the peer in the middle of a ${what} (${have} of ${count} bytes)`);
      }
      if (chunk.length > count - have) throw new TlsError(`transport returned ${chunk.length} bytes when at most ${count - have} were asked`);
      out.set(chunk, have);
      have += chunk.length;
    }
    this.counters.bytesReceived += count;
    return out;
  }

  /**
   * The next record that carries something: change_cipher_spec compatibility records are dropped
   * here. Returns null at the end of the stream (between records).
   */
  async read(): Promise<Record | null> {
    for (;;) {
      const header = await this.#readExactly(RECORD_HEADER_LENGTH, "record header");
      if (header === null) return null;
      const type = header[0]!;
      const length = header[3]! * 256 + header[4]!;
      if (type < ContentType.change_cipher_spec || type > ContentType.application_data) {
        throw new TlsUnexpectedMessageError(
          `record of unknown content type ${type} (header ${Array.from(header, (b) => b.toString(16).padStart(2, "0")).join("")}); is the peer speaking TLS?`,
        );
      }
      if (header[1] !== 0x03) throw new TlsDecodeError(`record with version 0x${header[1]!.toString(16)}${header[2]!.toString(16).padStart(2, "0")}; is the peer speaking TLS?`);
      const protectedRecord = this.#readProtection !== undefined && type !== ContentType.change_cipher_spec;
      // Bound what we read before allocating: plaintext at most 2^14; ciphertext at most our
      // content limit plus type byte, tag and the padding RFC 8446 allows (≤ 2^14 + 256 overall).
      const maxLength = protectedRecord ? Math.min(MAX_CIPHERTEXT, this.#maxReceiveContent + 1 + AEAD_TAG_LENGTH + 255) : MAX_PLAINTEXT;
      if (length > maxLength) {
        throw new TlsRecordOverflowError(`${contentTypeName(type)} record of ${length} bytes exceeds the ${maxLength}-byte limit`);
      }
      const body = (await this.#readExactly(length, `${contentTypeName(type)} record`))!;
      this.counters.recordsReceived++;

      if (type === ContentType.change_cipher_spec) {
        if (!this.allowChangeCipherSpec) throw new TlsUnexpectedMessageError("change_cipher_spec record outside the handshake");
        if (length !== 1 || body[0] !== 0x01) throw new TlsUnexpectedMessageError("malformed change_cipher_spec record (must be the single byte 0x01)");
        continue;
      }
      if (!this.#readProtection) {
        if (type === ContentType.application_data) throw new TlsUnexpectedMessageError("unprotected application_data record before the handshake keys");
        if (length === 0) throw new TlsUnexpectedMessageError(`empty ${contentTypeName(type)} record`);
        return { type, content: body };
      }
      if (type !== ContentType.application_data) {
        throw new TlsUnexpectedMessageError(`unprotected ${contentTypeName(type)} record after encryption started`);
      }
      const inner = this.#readProtection.open(header, body);
      if (inner.content.length > this.#maxReceiveContent) {
        throw new TlsRecordOverflowError(`record content of ${inner.content.length} bytes exceeds the ${this.#maxReceiveContent}-byte limit we advertised`);
      }
      if (inner.type === ContentType.change_cipher_spec) throw new TlsUnexpectedMessageError("change_cipher_spec inside a protected record");
      if (inner.type < ContentType.change_cipher_spec || inner.type > ContentType.application_data) {
        throw new TlsUnexpectedMessageError(`protected record of unknown content type ${inner.type}`);
      }
      if (inner.content.length === 0 && inner.type !== ContentType.application_data) {
        throw new TlsUnexpectedMessageError(`empty protected ${contentTypeName(inner.type)} record`);
      }
      return inner;
    }
  }

  /** Sends `content` as one or more records of `type` (fragmented to the send limit). */
  async write(type: number, content: Uint8Array): Promise<void> {
    let offset = 0;
    do {
      const fragment = content.subarray(offset, offset + this.#maxSendContent);
      offset += fragment.length;
      const record = this.#writeProtection
        ? this.#writeProtection.seal(type, fragment)
        : concatBytes(Uint8Array.of(type, this.plaintextVersion >>> 8, this.plaintextVersion & 0xff, fragment.length >>> 8, fragment.length & 0xff), fragment);
      this.counters.bytesSent += record.length;
      this.counters.recordsSent++;
      await this.transport.write(record);
    } while (offset < content.length);
  }

  /** The middlebox-compatibility change_cipher_spec record (always unprotected). */
  async writeChangeCipherSpec(): Promise<void> {
    const record = Uint8Array.of(ContentType.change_cipher_spec, 0x03, 0x03, 0, 1, 1);
    this.counters.bytesSent += record.length;
    this.counters.recordsSent++;
    await this.transport.write(record);
  }
}
