/**
 * A model of the ESP32 UART's receive side as Moddable's ECMA-419 serial driver uses it
 * (moddable.md §2.1, architecture.md §4): bytes cross the wire at the baud rate into a 128-byte
 * hardware FIFO; the driver has no software buffer, so the FIFO empties only when JavaScript runs
 * the serial onReadable callback, which the interrupt schedules when the FIFO reaches its
 * threshold or the line goes quiet. If JavaScript is busy for longer than the FIFO takes to fill,
 * every further byte is lost until the next read.
 *
 * The Moddable simulator's modem link uses it (config.board.uart, kind "moddable-simulator"): the
 * virtual modem's bytes come over TCP at once; this model puts them back on a virtual wire and
 * drains the FIFO from the simulator's own event loop with Timer callbacks. A drain that runs late
 * (the firmware's JavaScript kept the thread) finds more bytes than the FIFO holds, keeps the
 * first `fifoBytes` and drops the rest, as the hardware would. The stats say whether that ever
 * happened and how full the FIFO got.
 */
import type { Platform, TimerHandle } from "../../modules/platform/platform.js";

export interface UartFifoOptions {
  baud: number;
  /** Hardware receive FIFO size (ESP32: 128). */
  fifoBytes?: number;
  /**
   * FIFO level that raises the receive interrupt. Moddable's driver (modules/io/serial/esp32/serial.c)
   * enables the FIFO-full interrupt without setting the level, so the register's reset value
   * applies: 96 bytes (UART_RXFIFO_FULL_THRHD = 0x60 in the ESP32 and ESP32-S3 technical reference
   * manuals, as I read them; check on hardware). After it fires, 32 bytes of room are left.
   */
  thresholdBytes?: number;
  /** Quiet time after the last byte that raises the receive-timeout interrupt, in byte times (the driver sets 4 symbols). */
  timeoutBytes?: number;
  /**
   * Lateness of a read forgiven as the host's own scheduling delay rather than the firmware's
   * (a desktop event loop wakes timers a few ms late now and then; a board's does not). Reads are
   * taken to happen at most this much after they were due, when the firmware was not busy. Default 0.
   */
  hostLatencyAllowanceMs?: number;
}

export interface UartFifoStats {
  /** Bytes the modem put on the wire. */
  received: number;
  /** Bytes handed to the firmware. */
  delivered: number;
  /** Bytes lost to FIFO overflow. */
  dropped: number;
  /** Drains that found the FIFO overflowed. */
  overflows: number;
  /** Most bytes found waiting in the FIFO at a drain (≤ fifoBytes unless bytes were dropped). */
  maxFill: number;
  /** Latest a drain ran after it was due, in ms (the firmware's JavaScript and the host's scheduling). */
  maxLateMs: number;
  drains: number;
  /** Drains that ran later than the host latency allowance. */
  lateDrains: number;
}

interface WireChunk {
  bytes: Uint8Array;
  /** Time the first byte has fully arrived. */
  firstArrival: number;
  /** Bytes of this chunk already taken off the wire (into the FIFO or dropped). */
  taken: number;
}

export class UartFifoModel {
  readonly stats: UartFifoStats = { received: 0, delivered: 0, dropped: 0, overflows: 0, maxFill: 0, maxLateMs: 0, drains: 0, lateDrains: 0 };
  readonly #allowanceMs: number;
  readonly #byteMs: number;
  readonly #fifoBytes: number;
  readonly #thresholdBytes: number;
  readonly #timeoutBytes: number;
  #wire: WireChunk[] = [];
  #wireBusyUntil = 0;
  #timer: TimerHandle | undefined;
  #due = 0;
  #closed = false;

  constructor(
    private readonly platform: Platform,
    options: UartFifoOptions,
    private readonly deliver: (bytes: Uint8Array) => void,
    private readonly onOverflow?: (lost: number, lateMs: number) => void,
  ) {
    if (!(options.baud >= 300)) throw new RangeError(`baud ${options.baud} is below 300`);
    this.#byteMs = 10000 / options.baud; // 8N1: 10 bit times per byte
    this.#fifoBytes = options.fifoBytes ?? 128;
    this.#thresholdBytes = Math.min(options.thresholdBytes ?? 96, this.#fifoBytes);
    this.#timeoutBytes = options.timeoutBytes ?? 4;
    this.#allowanceMs = options.hostLatencyAllowanceMs ?? 0;
  }

  /** Bytes the modem sends now: they queue on the wire behind whatever it is still carrying. */
  receive(bytes: Uint8Array): void {
    if (this.#closed || bytes.length === 0) return;
    const start = Math.max(this.platform.now(), this.#wireBusyUntil);
    this.#wire.push({ bytes: bytes.slice(), firstArrival: start + this.#byteMs, taken: 0 });
    this.#wireBusyUntil = start + bytes.length * this.#byteMs;
    this.stats.received += bytes.length;
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.platform.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#wire = [];
  }

  /** Arrival time of the n-th byte (1-based) still on the wire. */
  #arrivalOf(n: number): number {
    for (const chunk of this.#wire) {
      const left = chunk.bytes.length - chunk.taken;
      if (n <= left) return chunk.firstArrival + (chunk.taken + n - 1) * this.#byteMs;
      n -= left;
    }
    return Infinity;
  }

  #pendingBytes(): number {
    let n = 0;
    for (const chunk of this.#wire) n += chunk.bytes.length - chunk.taken;
    return n;
  }

  /** The next interrupt: FIFO at its threshold, or the line quiet after the last byte. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const pending = this.#pendingBytes();
    if (pending === 0) return;
    this.#due =
      pending >= this.#thresholdBytes ? this.#arrivalOf(this.#thresholdBytes) : this.#arrivalOf(pending) + this.#timeoutBytes * this.#byteMs;
    this.#timer = this.platform.setTimer(() => {
      this.#timer = undefined;
      this.#drain();
    }, Math.max(0, Math.ceil(this.#due - this.platform.now())));
  }

  /** JavaScript runs onReadable and reads the FIFO: everything that has arrived by now. */
  #drain(): void {
    if (this.#closed) return;
    const observed = this.platform.now();
    this.stats.drains++;
    this.stats.maxLateMs = Math.max(this.stats.maxLateMs, observed - this.#due);
    if (observed - this.#due > this.#allowanceMs) this.stats.lateDrains++;
    // The moment the FIFO is read, as far as the firmware is concerned: host delay up to the allowance is forgiven.
    const now = Math.max(this.#due, observed - this.#allowanceMs);
    const kept: Uint8Array[] = [];
    let inFifo = 0;
    let arrived = 0;
    while (this.#wire.length > 0) {
      const chunk = this.#wire[0]!;
      const left = chunk.bytes.length - chunk.taken;
      // Bytes of this chunk whose last bit has arrived by now.
      const landed = Math.min(left, Math.max(0, Math.floor((now - chunk.firstArrival) / this.#byteMs + 1e-9) + 1 - chunk.taken));
      if (landed <= 0) break;
      const room = Math.max(0, this.#fifoBytes - inFifo);
      const keep = Math.min(room, landed);
      if (keep > 0) kept.push(chunk.bytes.subarray(chunk.taken, chunk.taken + keep));
      inFifo += keep;
      arrived += landed;
      chunk.taken += landed;
      if (chunk.taken === chunk.bytes.length) this.#wire.shift();
      else break;
    }
    this.stats.maxFill = Math.max(this.stats.maxFill, arrived);
    if (arrived > this.#fifoBytes) {
      this.stats.overflows++;
      this.stats.dropped += arrived - this.#fifoBytes;
      this.onOverflow?.(arrived - this.#fifoBytes, observed - this.#due);
    }
    if (inFifo > 0) {
      const out = new Uint8Array(inFifo);
      let offset = 0;
      for (const piece of kept) {
        out.set(piece, offset);
        offset += piece.length;
      }
      this.stats.delivered += inFifo;
      this.deliver(out);
    }
    this.#schedule();
  }
}
