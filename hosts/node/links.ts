/**
 * ByteLink implementations for Node: a TCP client, an accepted socket, and a pty / serial device
 * path. Received bytes are buffered up to a bound; past it the stream is paused (TCP then pushes
 * back on the sender) and resumed once the reader has drained it.
 */
import { ByteQueue } from "../../modules/platform/byte-queue.js";
import { closeSync, constants as fsConstants, createReadStream, createWriteStream, fstatSync, openSync } from "node:fs";
import { connect, Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { isatty, ReadStream as TtyReadStream } from "node:tty";
import { type ByteLink, LinkClosedError } from "../../modules/platform/platform.js";

export interface StreamLinkOptions {
  /** Unread bytes above which the stream is paused; default 64 KiB. */
  maxBuffered?: number;
}

const DEFAULT_MAX_BUFFERED = 64 * 1024;

/** A ByteLink over a Node readable + writable pair (often one Duplex). */
class StreamLink implements ByteLink {
  onReadable: ((count: number) => void) | undefined;
  onClose: ((error?: Error) => void) | undefined;
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #maxBuffered: number;
  readonly #release: () => void;
  #received = new ByteQueue();
  #paused = false;
  #closed = false;
  #closeReported = false;
  #notifyPending = false;
  #error: Error | undefined;

  constructor(input: Readable, output: Writable, release: () => void, options: StreamLinkOptions) {
    this.#input = input;
    this.#output = output;
    this.#release = release;
    this.#maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    input.on("data", (chunk: Buffer) => this.#receive(chunk));
    const onError = (error: Error): void => {
      this.#error ??= error;
      this.#finish();
    };
    input.on("error", onError);
    if ((output as unknown) !== input) output.on("error", onError);
    input.on("end", () => this.#finish());
    input.on("close", () => this.#finish());
  }

  get readable(): number {
    return this.#received.length;
  }

  write(bytes: Uint8Array): void {
    if (this.#closed) throw new LinkClosedError();
    if (bytes.length === 0) return;
    // Copied: the caller may reuse its array once write returns.
    this.#output.write(Buffer.from(bytes));
  }

  read(max?: number): Uint8Array | undefined {
    const out = this.#received.take(max);
    if (this.#paused && this.#received.length <= this.#maxBuffered / 2 && !this.#closed) {
      this.#paused = false;
      this.#input.resume();
    }
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#reportClose();
  }

  #receive(chunk: Buffer): void {
    if (this.#closed || chunk.length === 0) return;
    this.#received.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    if (this.#received.length > this.#maxBuffered && !this.#paused) {
      this.#paused = true;
      this.#input.pause();
    }
    if (this.#notifyPending) return;
    this.#notifyPending = true;
    // Never called from inside a 'data' event of the caller's own write; always a fresh job.
    queueMicrotask(() => {
      this.#notifyPending = false;
      if (this.#received.length > 0 && !this.#closed) this.onReadable?.(this.#received.length);
    });
  }

  /** The peer closed, reset, or the stream failed. Bytes already received stay readable. */
  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#reportClose();
  }

  #reportClose(): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    // After any pending onReadable, so a reader sees the last bytes before the close.
    queueMicrotask(() => queueMicrotask(() => this.onClose?.(this.#error)));
  }
}

/** A ByteLink over a connected socket (e.g. one accepted by net.Server). */
export function socketLink(socket: Socket, options: StreamLinkOptions = {}): ByteLink {
  socket.setNoDelay(true);
  return new StreamLink(socket, socket, () => {
    // Flush what was written, then tear down; destroy() on its own could drop queued bytes.
    if (!socket.destroyed) socket.end(() => socket.destroy());
  }, options);
}

export class LinkConnectError extends Error {
  override name = "LinkConnectError";
}

export interface TcpLinkOptions extends StreamLinkOptions {
  /** Give up connecting after this long; default 10 s. */
  connectTimeoutMs?: number;
}

/** Connects to `host:port` and resolves with a ByteLink over the socket. */
export function connectTcpLink(host: string, port: number, options: TcpLinkOptions = {}): Promise<ByteLink> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new LinkConnectError(`connecting to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeListener("error", onError);
      resolve(socketLink(socket, options));
    });
    const onError = (error: Error): void => {
      clearTimeout(timer);
      reject(new LinkConnectError(`cannot connect to ${host}:${port}: ${error.message}`));
    };
    socket.once("error", onError);
  });
}

/**
 * Opens a pty or serial device (or any path that reads and writes, such as a FIFO) as a ByteLink.
 * No termios settings are made: a pty from `socat pty,raw,echo=0,...` is raw already, and a real
 * serial port keeps whatever `stty` gave it.
 */
export function openDeviceLink(path: string, options: StreamLinkOptions = {}): ByteLink {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
  } catch (error) {
    throw new LinkConnectError(`cannot open ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (isatty(fd)) {
    // A tty handle reads without blocking a thread-pool thread and writes through the same handle.
    const tty = new TtyReadStream(fd);
    return new StreamLink(tty, tty, () => tty.destroy(), options);
  }
  const stat = fstatSync(fd);
  if (stat.isFIFO() || stat.isSocket()) {
    // libuv pipe handle: non-blocking, so closing never waits on a read stuck in the thread pool.
    const pipe = new Socket({ fd, readable: true, writable: true });
    return new StreamLink(pipe, pipe, () => pipe.destroy(), options);
  }
  // Anything else (a character device that is not a tty): blocking reads on the thread pool.
  const input = createReadStream("", { fd, autoClose: false });
  const output = createWriteStream("", { fd, autoClose: false });
  let released = false;
  return new StreamLink(input, output, () => {
    if (released) return;
    released = true;
    input.destroy();
    output.end(() => {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    });
  }, options);
}
