/**
 * What the firmware needs from the machine it runs on. Each host (ESP32 via Moddable modules,
 * xsnap bridged to Node, plain Node) implements this; firmware code never reaches for globals
 * such as setTimeout, console or crypto.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

/** Opaque handle returned by {@link Platform.setTimer}. */
export interface TimerHandle {
  readonly __timer: unique symbol;
}

export interface Platform {
  /** Monotonic milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch (may be wrong until set from the network). */
  wallClock(): number;
  /** Calls `callback` once after `ms` milliseconds. */
  setTimer(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; harmless on a timer that already fired or was cleared. */
  clearTimer(handle: TimerHandle): void;
  /** One log record. `tag` names the subsystem ("at", "sim", "tls"...). */
  log(level: LogLevel, tag: string, message: string): void;
  /** `count` bytes from the best random source the host has. */
  randomBytes(count: number): Uint8Array;
}

/**
 * A bidirectional byte stream to the modem (a UART on the device; TCP, a pty or an in-memory
 * pair elsewhere). Shaped after ECMA-419 serial: the link tells the reader how many bytes are
 * waiting and the reader pulls them, so the reader controls how much it holds in memory.
 */
export interface ByteLink {
  /** Queues bytes for sending. Throws LinkClosedError after close. */
  write(bytes: Uint8Array): void;
  /** Takes up to `max` received bytes (all by default); undefined when none are waiting. */
  read(max?: number): Uint8Array | undefined;
  /** Bytes received and not yet read. */
  readonly readable: number;
  /** Called (asynchronously, never re-entrantly from write) when received bytes are waiting. */
  onReadable: ((count: number) => void) | undefined;
  /** Called once when the link closes: by close(), by the peer, or by an error. */
  onClose: ((error?: Error) => void) | undefined;
  close(): void;
}

export class LinkClosedError extends Error {
  override name = "LinkClosedError";
  constructor(message = "byte link is closed") {
    super(message);
  }
}
