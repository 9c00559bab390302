/**
 * Frames MQTT control packets out of a byte stream that arrives in arbitrary pieces (TLS records,
 * modem socket reads). Bounded: a packet whose header announces more than `maxPacketSize` bytes is
 * refused before its body is buffered, so a hostile peer cannot make the device hold more than one
 * packet of the configured size plus the chunk being processed.
 */
import { concatBytes } from "../bytes/bytes.js";
import { decodePacket, decodeRemainingLength, type MqttPacket } from "./codec.js";
import { MqttError, MqttPacketTooLargeError } from "./errors.js";

/** Default bound on one incoming packet (fixed header included). */
export const DEFAULT_MAX_PACKET_SIZE = 16384;
/** A packet is at least its first byte and a one-byte Remaining Length. */
const MIN_PACKET_SIZE = 2;

export class MqttPacketReader {
  readonly maxPacketSize: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #failure: MqttError | undefined;

  constructor(maxPacketSize = DEFAULT_MAX_PACKET_SIZE) {
    if (!Number.isInteger(maxPacketSize) || maxPacketSize < MIN_PACKET_SIZE) throw new RangeError(`maxPacketSize must be an integer >= ${MIN_PACKET_SIZE}`);
    this.maxPacketSize = maxPacketSize;
  }

  /** Bytes received and not yet returned as packets. */
  get buffered(): number {
    return this.#buffer.length - this.#offset;
  }

  /** Appends received bytes; call next() until it returns undefined. */
  push(chunk: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    if (chunk.length === 0) return;
    const rest = this.#buffer.subarray(this.#offset);
    this.#buffer = rest.length === 0 ? chunk.slice() : concatBytes(rest, chunk);
    this.#offset = 0;
  }

  /**
   * The next complete packet, or undefined when more bytes are needed. A malformed packet throws
   * a typed error, and so does every later call: the stream cannot be resynchronised.
   */
  next(): MqttPacket | undefined {
    if (this.#failure) throw this.#failure;
    try {
      const available = this.#buffer.length - this.#offset;
      if (available < MIN_PACKET_SIZE) return undefined;
      const length = decodeRemainingLength(this.#buffer, this.#offset + 1);
      if (!length) return undefined;
      const total = 1 + length.size + length.value;
      if (total > this.maxPacketSize) throw new MqttPacketTooLargeError(total, this.maxPacketSize);
      if (available < total) return undefined;
      const firstByte = this.#buffer[this.#offset]!;
      const bodyStart = this.#offset + 1 + length.size;
      const body = this.#buffer.subarray(bodyStart, bodyStart + length.value);
      this.#offset += total;
      // decodePacket copies what it keeps, so the buffer can be dropped once it is consumed.
      const packet = decodePacket(firstByte, body);
      if (this.#offset === this.#buffer.length) {
        this.#buffer = new Uint8Array(0);
        this.#offset = 0;
      }
      return packet;
    } catch (error) {
      if (error instanceof MqttError) this.#failure = error;
      throw error;
    }
  }
}
