/**
 * A TCP socket held by the modem, read in pull mode: the modem keeps received data; a URC (or a
 * periodic poll, the safety net against a lost URC) only marks the socket as "maybe has data";
 * the bytes move over the UART when read() asks for at most N of them.
 */
import type { Platform, TimerHandle } from "../platform/platform.js";
import { SocketClosedError, SocketError, SocketLostError, SocketReceiveError } from "./errors.js";
import type { ModemSocket, SocketCloseReason, SocketState } from "./types.js";

export interface ReceiveResult {
  /** Bytes read (possibly none). */
  data: Uint8Array;
  /** The modem reported the end of the stream (peer closed and nothing left). */
  endOfStream?: boolean;
}

/** What a dialect does for a socket; each call is one bounded AT exchange (or a few). */
export interface SocketOperations {
  readonly maxSendChunk: number;
  readonly maxReadChunk: number;
  sendChunk(socket: PullSocket, chunk: Uint8Array): Promise<void>;
  receive(socket: PullSocket, maxBytes: number): Promise<ReceiveResult>;
  closeOnModem(socket: PullSocket): Promise<void>;
  /** Called once when the socket reaches a closed state (to free its id). */
  released(socket: PullSocket, reason: SocketCloseReason): void;
}

export interface PullSocketOptions {
  pollIntervalMs?: number;
  readTimeoutMs?: number;
}

export class PullSocket implements ModemSocket {
  onClose: ((reason: SocketCloseReason) => void) | undefined;
  #state: SocketState = "open";
  #closeReason: SocketCloseReason | undefined;
  /** Incremented by every data notification; a read that found nothing clears `maybeData` only if no notification came meanwhile. */
  #dataSignal = 0;
  /** A new socket may already hold data (it can arrive before the open completes). */
  #maybeData = true;
  #peerClosed = false;
  #endOfStream = false;
  /** Bytes a dialect returned beyond what the reader asked for (a read command without a length). Bounded by maxReadChunk. */
  #leftover: Uint8Array | undefined;
  #reading = false;
  #wake: (() => void) | undefined;
  #writeChain: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  readonly #pollIntervalMs: number;
  readonly #readTimeoutMs: number | undefined;

  constructor(
    readonly id: number,
    readonly host: string,
    readonly port: number,
    readonly operations: SocketOperations,
    readonly platform: Platform,
    options: PullSocketOptions = {},
  ) {
    this.#pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.#readTimeoutMs = options.readTimeoutMs;
  }

  get state(): SocketState {
    return this.#state;
  }

  get closeReason(): SocketCloseReason | undefined {
    return this.#closeReason;
  }

  /** True until the socket is closed here or lost (peer-closed sockets can still be drained). */
  get usable(): boolean {
    return this.#state !== "closed";
  }

  // ---- notifications from the dialect (URC handlers) ----

  /** The modem says data is waiting (`+QIURC: "recv"`, `+CADATAIND`, `+UUSORD`, `+SQNSRING`...). */
  notifyData(): void {
    this.#dataSignal++;
    this.#maybeData = true;
    this.#wakeReader();
  }

  /** The peer closed: what the modem still holds can be read, then read() returns null. */
  notifyPeerClosed(): void {
    if (this.#state !== "open") return;
    this.#peerClosed = true;
    this.#state = "peer-closed";
    this.#closeReason = "peer";
    this.notifyData();
    this.onClose?.("peer");
  }

  /** The connection is gone (modem reset, data context dropped): reads and writes fail from now on. */
  notifyLost(reason: "lost" | "network"): void {
    if (this.#state === "closed") return;
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    this.#closeReason = reason;
    this.#failure = new SocketLostError(
      reason === "lost" ? `socket ${this.id} to ${this.host}:${this.port} was lost: the modem reset` : `socket ${this.id} to ${this.host}:${this.port} was lost: the network dropped the data context`,
      this.id,
    );
    this.#leftover = undefined;
    this.operations.released(this, reason);
    this.#wakeReader();
    // A peer close already reported onClose; report the loss only if it is news.
    if (wasOpen) this.onClose?.(reason);
  }

  // ---- TlsTransport ----

  async read(maxBytes: number): Promise<Uint8Array | null> {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`read(${maxBytes}): maxBytes must be a positive integer`);
    if (this.#reading) throw new SocketError(`socket ${this.id}: a read is already pending`, this.id);
    this.#reading = true;
    try {
      return await this.#read(maxBytes);
    } finally {
      this.#reading = false;
    }
  }

  async #read(maxBytes: number): Promise<Uint8Array | null> {
    const started = this.platform.now();
    for (;;) {
      const leftover = this.#leftover;
      if (leftover) return this.#takeLeftover(leftover, maxBytes);
      if (this.#failure) throw this.#failure;
      if (this.#state === "closed" || this.#endOfStream) return null;
      if (this.#maybeData) {
        const signal = this.#dataSignal;
        let result: ReceiveResult;
        try {
          result = await this.operations.receive(this, Math.min(maxBytes, this.operations.maxReadChunk));
        } catch (error) {
          if (this.#failure) throw this.#failure;
          if (this.state === "closed") return null;
          // Bytes may be missing from the stream now: nothing read later can be trusted.
          const failure = error instanceof SocketError ? error : new SocketReceiveError(`socket ${this.id}: read failed, the byte stream is broken: ${(error as Error).message}`, this.id, { cause: error });
          this.#failure = failure;
          throw failure;
        }
        if (this.#failure) throw this.#failure;
        if (result.data.length > 0) {
          if (result.data.length <= maxBytes) return result.data;
          this.#leftover = result.data;
          continue;
        }
        if (result.endOfStream) {
          // The modem says nothing is left and the peer is gone.
          if (this.#state === "open") this.notifyPeerClosed();
          this.#endOfStream = true;
          return null;
        }
        if (signal === this.#dataSignal) this.#maybeData = false;
        if (this.#peerClosed && !this.#maybeData) {
          this.#endOfStream = true;
          return null;
        }
        continue;
      }
      const waited = this.platform.now() - started;
      if (this.#readTimeoutMs !== undefined && waited >= this.#readTimeoutMs) {
        throw new SocketReceiveError(`socket ${this.id}: no data within ${this.#readTimeoutMs} ms`, this.id);
      }
      const limit = this.#readTimeoutMs === undefined ? undefined : this.#readTimeoutMs - waited;
      await this.#waitForNotification(limit);
    }
  }

  #takeLeftover(leftover: Uint8Array, maxBytes: number): Uint8Array {
    if (leftover.length <= maxBytes) {
      this.#leftover = undefined;
      return leftover;
    }
    this.#leftover = leftover.subarray(maxBytes);
    return leftover.slice(0, maxBytes);
  }

  /** Waits for a notification, or the poll interval (then tries a read anyway), or `limit`. */
  #waitForNotification(limit: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      const done = (): void => {
        if (timer !== undefined) this.platform.clearTimer(timer);
        timer = undefined;
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      const poll = this.#pollIntervalMs > 0 ? this.#pollIntervalMs : undefined;
      const wait = poll === undefined ? limit : limit === undefined ? poll : Math.min(poll, limit);
      if (wait !== undefined) {
        timer = this.platform.setTimer(() => {
          timer = undefined;
          if (poll !== undefined && wait === poll) this.#maybeData = true;
          done();
        }, wait);
      }
    });
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  write(bytes: Uint8Array): Promise<void> {
    const run = this.#writeChain.then(() => this.#write(bytes));
    // A failed write must not block later ones from reporting their own error.
    this.#writeChain = run.catch(() => undefined);
    return run;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const max = this.operations.maxSendChunk;
    for (let offset = 0; offset < bytes.length; offset += max) {
      this.#checkWritable();
      const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + max));
      try {
        await this.operations.sendChunk(this, chunk);
      } catch (error) {
        if (this.#failure) throw this.#failure;
        throw error;
      }
    }
  }

  #checkWritable(): void {
    if (this.#failure) throw this.#failure;
    if (this.#state === "peer-closed") throw new SocketClosedError(`socket ${this.id} to ${this.host}:${this.port}: the peer closed the connection`, this.id);
    if (this.#state === "closed") throw new SocketClosedError(`socket ${this.id} to ${this.host}:${this.port} is closed`, this.id);
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (this.#closeReason === undefined) this.#closeReason = "local";
    this.#leftover = undefined;
    this.#wakeReader();
    try {
      await this.operations.closeOnModem(this);
    } catch (error) {
      // The connection is given up either way; a modem that cannot close it has bigger problems,
      // which the next command (and the recovery ladder) will meet.
      this.platform.log("warn", "modem", `socket ${this.id}: close failed: ${(error as Error).message}`);
    } finally {
      this.operations.released(this, "local");
      if (this.#closeReason === "local") this.onClose?.("local");
    }
  }
}
