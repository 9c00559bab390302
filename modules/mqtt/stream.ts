/**
 * The byte stream MQTT runs over. A TlsClient satisfies it as is; a pull-shaped transport (a
 * TlsTransport: plain TCP, a modem socket, an in-memory link) is adapted with streamFromTransport.
 */

export interface MqttStream {
  /** The next received bytes, or null at the end of the stream. Rejects if the stream failed. */
  read(): Promise<Uint8Array | null>;
  /** Sends bytes; resolves when the stream has accepted them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes both directions; harmless when already closed. */
  close(): Promise<void>;
}

/** A transport that is read with a size bound (modules/tls TlsTransport has this shape). */
export interface PullTransport {
  read(maxBytes: number): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** An MqttStream over a pull transport, reading at most `readSize` bytes at a time (bounds memory). */
export function streamFromTransport(transport: PullTransport, readSize = 1024): MqttStream {
  if (!Number.isInteger(readSize) || readSize < 1) throw new RangeError("readSize must be a positive integer");
  return {
    read: () => transport.read(readSize),
    write: (bytes) => transport.write(bytes),
    close: () => transport.close(),
  };
}
