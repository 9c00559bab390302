/**
 * The platform interface on Moddable hosts (ESP32 boards and the Moddable desktop simulator):
 * Timer, Time.ticks, trace, and ECMA-419 I/O for the modem link (a UART on a board, a TCP socket
 * to the virtual modem in the simulator).
 */
import Serial from "embedded:io/serial";
import TCP from "embedded:io/socket/tcp";
import Time from "time";
import Timer from "timer";
import { ByteQueue } from "../../modules/platform/byte-queue.js";
import { UartFifoModel, type UartFifoOptions, type UartFifoStats } from "./uart-fifo.js";
import { type ByteLink, LinkClosedError, type LogLevel, type Platform, type TimerHandle } from "../../modules/platform/platform.js";

export interface ModdablePlatformOptions {
  /** Fills `out` with random bytes: the ESP32 hardware RNG on a board. Required: Math.random is no CSPRNG. */
  fillRandom(out: Uint8Array): void;
  logLevel?: LogLevel;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function moddablePlatform(options: ModdablePlatformOptions): Platform {
  const minRank = LEVEL_RANK[options.logLevel ?? "info"];
  return {
    now: () => Time.ticks,
    wallClock: () => Date.now(),
    setTimer: (callback, ms) => Timer.set(() => callback(), ms) as unknown as TimerHandle,
    clearTimer: (handle) => Timer.clear(handle as unknown as Timer),
    log: (level, tag, message) => {
      if (LEVEL_RANK[level] >= minRank) trace(`[${level}] ${tag}: ${message}\n`);
    },
    randomBytes: (count) => {
      const out = new Uint8Array(count);
      options.fillRandom(out);
      return out;
    },
  };
}

/**
 * Received bytes are moved out of the 128-byte UART FIFO at once (onReadable) into this bounded
 * queue, which the AT engine drains; exceeding the bound closes the link with an error rather than
 * silently losing bytes.
 */
class QueuedLink implements ByteLink {
  onReadable: ((count: number) => void) | undefined;
  onClose: ((error?: Error) => void) | undefined;
  #received = new ByteQueue();
  #closed = false;
  constructor(
    private readonly maxQueued: number,
    private readonly send: (bytes: Uint8Array) => void,
    private readonly shut: () => void,
  ) {}
  get readable(): number {
    return this.#received.length;
  }
  write(bytes: Uint8Array): void {
    if (this.#closed) throw new LinkClosedError();
    this.send(bytes);
  }
  read(max?: number): Uint8Array | undefined {
    return this.#received.take(max);
  }
  close(): void {
    if (this.#closed) return;
    this.shut();
    this.ended();
  }
  received(bytes: Uint8Array): void {
    if (this.#closed) return;
    if (this.#received.length + bytes.length > this.maxQueued) {
      this.shut();
      this.ended(new Error(`modem link receive queue over ${this.maxQueued} bytes: the reader is not draining it`));
      return;
    }
    this.#received.push(bytes);
    this.onReadable?.(this.#received.length);
  }
  ended(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose?.(error);
  }
}

export interface UartOptions {
  port: number;
  transmit: number;
  receive: number;
  baud: number;
  /** Upper bound of bytes held between the FIFO and the AT engine. Default 4096. */
  maxQueued?: number;
}

/** The modem UART as a ByteLink. Writes larger than the TX FIFO are split and retried on onWritable. */
export function uartLink(options: UartOptions): ByteLink {
  const pending: Uint8Array[] = [];
  const flush = () => {
    while (pending.length) {
      const chunk = pending[0]!;
      try {
        serial.write(chunk);
        pending.shift();
      } catch {
        // "output full": wait for onWritable. Halve big chunks so they fit the 128-byte FIFO.
        if (chunk.length > 64) pending.splice(0, 1, chunk.subarray(0, 64), chunk.subarray(64));
        return;
      }
    }
  };
  const serial: Serial = new Serial({
    port: options.port,
    transmit: options.transmit,
    receive: options.receive,
    baud: options.baud,
    format: "buffer",
    onReadable() {
      const data = serial.read() as ArrayBuffer | undefined;
      if (data) link.received(new Uint8Array(data));
    },
    onWritable() {
      flush();
    },
  });
  const link = new QueuedLink(
    options.maxQueued ?? 4096,
    (bytes) => {
      pending.push(bytes);
      flush();
    },
    () => serial.close(),
  );
  return link;
}

/**
 * A TCP connection as the modem link (the Moddable simulator reaching the virtual modem). With
 * `uart`, the bytes pass a model of the ESP32's UART receive FIFO first (uart-fifo.ts): the link
 * then loses bytes exactly when a board would, and `uartStats` says whether it did.
 */
export function tcpLink(options: { address: string; port: number; maxQueued?: number; uart?: UartFifoOptions; platform?: Platform }): ByteLink & { uartStats?: UartFifoStats } {
  let fifo: UartFifoModel | undefined;
  const socket: TCP = new TCP({
    address: options.address,
    port: options.port,
    format: "buffer",
    onReadable(count: number) {
      const data = new Uint8Array(socket.read(count) as ArrayBuffer);
      if (fifo) fifo.receive(data);
      else link.received(data);
    },
    onError() {
      fifo?.close();
      link.ended(new Error("modem TCP link closed"));
    },
  });
  const link = new QueuedLink(
    options.maxQueued ?? 16384,
    (bytes) => socket.write(bytes),
    () => {
      fifo?.close();
      socket.close();
    },
  );
  if (options.uart) {
    if (!options.platform) throw new RangeError("tcpLink: the UART model needs the platform's clock and timers");
    const platform = options.platform;
    fifo = new UartFifoModel(
      platform,
      options.uart,
      (bytes) => link.received(bytes),
      (lost, lateMs) => platform.log("warn", "uart", `receive FIFO overflow: ${lost} bytes lost (read ${lateMs.toFixed(1)} ms after the interrupt)`),
    );
  }
  return Object.assign(link, fifo ? { uartStats: fifo.stats } : {});
}
