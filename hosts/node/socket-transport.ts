/**
 * A TlsTransport over a Node stream socket (node:net), for running the firmware's TLS client on a
 * desktop. Received data is queued up to a high-water mark; beyond it the socket is paused, so a
 * slow reader never makes the queue grow without bound.
 */
import { connect, type Socket } from "node:net";
import type { TlsTransport } from "../../modules/tls/transport.js";

export interface SocketTransportOptions {
  /** Queued bytes above which the socket is paused. Default 65536. */
  highWaterMark?: number;
}

export function socketTransport(socket: Socket, options: SocketTransportOptions = {}): TlsTransport {
  const highWater = options.highWaterMark ?? 65536;
  const queue: Uint8Array[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let waiter: (() => void) | undefined;
  const wake = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  socket.on("data", (chunk: Buffer) => {
    queue.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    queued += chunk.byteLength;
    if (queued > highWater) socket.pause();
    wake();
  });
  socket.on("end", () => {
    ended = true;
    wake();
  });
  socket.on("close", () => {
    ended = true;
    wake();
  });
  socket.on("error", (error) => {
    failure = error;
    ended = true;
    wake();
  });
  return {
    async read(maxBytes) {
      for (;;) {
        if (queued > 0) {
          const head = queue[0]!;
          let out: Uint8Array;
          if (head.length <= maxBytes) {
            queue.shift();
            out = head.slice();
          } else {
            out = head.slice(0, maxBytes);
            queue[0] = head.subarray(maxBytes);
          }
          queued -= out.length;
          if (queued <= highWater / 2 && socket.isPaused()) socket.resume();
          return out;
        }
        if (failure) throw failure;
        if (ended) return null;
        await new Promise<void>((resolve) => {
          waiter = resolve;
        });
      }
    },
    write(bytes) {
      return new Promise<void>((resolve, reject) => {
        if (socket.destroyed || !socket.writable) {
          reject(failure ?? new Error("socket is closed"));
          return;
        }
        socket.write(bytes, (error) => (error ? reject(error) : resolve()));
      });
    },
    async close() {
      if (socket.destroyed) return;
      // end() lets queued bytes (a close_notify) leave first; destroy() follows if the peer lingers.
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    },
  };
}

/** Opens a TCP connection and wraps it. */
export function connectTcp(host: string, port: number, options: SocketTransportOptions = {}): Promise<TlsTransport> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve(socketTransport(socket, options));
    });
    socket.once("error", reject);
  });
}
