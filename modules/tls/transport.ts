/**
 * The byte stream TLS runs over. Pull-shaped: the TLS layer asks for at most N bytes when it is
 * ready for them, so a modem socket can turn each read into one bounded AT read command and a host
 * TCP socket can pause when nobody is reading. Nothing here buffers without bound.
 */
import type { ByteLink } from "../platform/platform.js";
import { LinkClosedError } from "../platform/platform.js";

export interface TlsTransport {
  /**
   * Resolves with 1..maxBytes received bytes once some are available, or null at the end of the
   * stream (peer closed). Rejects if the stream failed. Called again only after it settled.
   */
  read(maxBytes: number): Promise<Uint8Array | null>;
  /** Sends bytes; resolves when the stream has accepted them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes both directions; harmless when already closed. */
  close(): Promise<void>;
}

/**
 * A TlsTransport over a firmware ByteLink (UART-shaped, pull mode). The adapter takes over the
 * link's onReadable/onClose callbacks.
 */
export function byteLinkTransport(link: ByteLink): TlsTransport {
  let closed = false;
  let closeError: Error | undefined;
  let waiter: (() => void) | undefined;
  const wake = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  link.onReadable = wake;
  link.onClose = (error) => {
    closed = true;
    closeError = error;
    wake();
  };
  return {
    async read(maxBytes) {
      for (;;) {
        if (link.readable > 0) {
          const chunk = link.read(maxBytes);
          if (chunk && chunk.length > 0) return chunk;
        }
        if (closed) {
          if (closeError) throw closeError;
          return null;
        }
        await new Promise<void>((resolve) => {
          waiter = resolve;
        });
      }
    },
    async write(bytes) {
      if (closed) throw closeError ?? new LinkClosedError();
      link.write(bytes);
    },
    async close() {
      if (!closed) link.close();
    },
  };
}
