/**
 * The one `Modem` interface every driver offers (generic 27.007 base + vendor dialects), and the
 * socket it opens. A socket has exactly the shape of modules/tls `TlsTransport`, so TLS and MQTT
 * run through the modem unchanged.
 */
import type { AtEngine } from "../at/index.js";

/** Names used everywhere: driver, virtual modem (`iotsafe sim --dialect NAME`), CLI. */
export const MODEM_DIALECT_NAMES = ["generic", "quectel-bg95", "simcom-sim7080", "ublox-sara-r5", "sequans-gm02s", "nordic-slm"] as const;
export type ModemDialectName = (typeof MODEM_DIALECT_NAMES)[number];

/**
 * What a board host implements: the modem's power key and reset pin (GPIOs on an ESP32 board,
 * the virtual modem's power control in the simulator). All optional; the recovery ladder skips
 * the hard-reset step when `hardReset` is absent.
 */
export interface BoardHooks {
  /** Power the modem up (PWRKEY pulse); resolves when the pulse is done, not when the modem is ready. */
  powerOn?(): Promise<void>;
  /** Power the modem down (PWRKEY pulse / supply off). */
  powerOff?(): Promise<void>;
  /** Pull the reset pin (or power-cycle); resolves when the pulse is done. */
  hardReset?(): Promise<void>;
}

export interface InitOptions {
  /** Entered with AT+CPIN when the SIM asks for its PIN. */
  pin?: string;
  /** How long the SIM may stay busy after boot; default 20000 ms. */
  simReadyTimeoutMs?: number;
}

export interface ModemIdentity {
  manufacturer: string;
  model: string;
  firmware: string;
  imei: string;
  iccid: string;
  imsi: string;
}

export interface AttachOptions {
  apn: string;
  user?: string;
  password?: string;
  /** PDP type for AT+CGDCONT; default "IP". */
  pdpType?: "IP" | "IPV6" | "IPV4V6";
  /** How long to wait for registration (home or roaming); default 180000 ms. */
  registrationTimeoutMs?: number;
  /** How long the data context activation may take; default the dialect's (up to 150 s). */
  activationTimeoutMs?: number;
}

export interface AttachResult {
  /** 1 home, 5 roaming. */
  registrationStatus: 1 | 5;
  /** The address of the data context when the dialect reports one. */
  ipAddress: string | undefined;
}

export interface SignalQuality {
  /** 27.007 <rssi> 0..31, undefined when the modem says 99 (unknown). */
  rssi: number | undefined;
  /** Received signal strength in dBm (−113 + 2·rssi), undefined when unknown. */
  dbm: number | undefined;
  /** <ber> 0..7, undefined when 99. */
  ber: number | undefined;
  /** LTE reference signal power (AT+CESQ <rsrp>, lower bound of its 1 dB band), when the modem reports it. */
  rsrpDbm?: number;
  /** LTE reference signal quality (AT+CESQ <rsrq>, lower bound of its 0.5 dB band), when reported. */
  rsrqDb?: number;
}

/** The SIM transports a family supports, in the order to try (give `order` to modules/sim createAtCardAccess). */
export interface SimAccessSupport {
  csim: boolean;
  cgla: boolean;
  order: readonly ("csim" | "cgla")[];
}

/** What the AT transports of modules/sim need: AtEngine.send's shape. */
export interface SimCommandPort {
  send(command: string, options?: { prefix?: string; timeoutMs?: number }): Promise<{ lines: readonly string[]; final: string }>;
}

export type SocketCloseReason =
  /** close() on this side. */
  | "local"
  /** The peer closed the connection (FIN); data received before it can still be read. */
  | "peer"
  /** The data context or the network dropped it. */
  | "network"
  /** The modem reset: the connection no longer exists. */
  | "lost";

export type SocketState = "open" | "peer-closed" | "closed";

/** A TCP connection through the modem. Structurally a modules/tls `TlsTransport`. */
export interface ModemSocket {
  /** The modem's id for the connection (connectID / cid / socket handle). */
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly state: SocketState;
  /** Why the socket closed, once it has. */
  readonly closeReason: SocketCloseReason | undefined;
  /** Called once when the socket closes, whoever closed it. */
  onClose: ((reason: SocketCloseReason) => void) | undefined;
  /**
   * Resolves with 1..maxBytes bytes once the modem has some (the driver asks the modem for at
   * most maxBytes), or null at the end of the stream (peer closed and drained, or closed here).
   * Rejects with SocketLostError after a modem reset or network loss.
   */
  read(maxBytes: number): Promise<Uint8Array | null>;
  /** Sends all bytes, in chunks no larger than the dialect's limit; resolves when the modem has accepted them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the connection on the modem; harmless when already closed. */
  close(): Promise<void>;
}

export interface OpenTcpOptions {
  /** How long the connection may take; default the dialect's (connects can take 75–150 s). */
  connectTimeoutMs?: number;
  /**
   * While no data-waiting notification arrives, ask the modem anyway this often (a safety net
   * against a lost URC); default 2000 ms, 0 = never.
   */
  pollIntervalMs?: number;
  /** A read that gets no data for this long rejects with SocketReceiveError; default: no limit. */
  readTimeoutMs?: number;
}

export type RecoveryStep = "resync" | "reinit" | "reactivate" | "soft-reset" | "hard-reset";

export type ModemEvent =
  | { type: "registration"; status: number }
  /** The modem rebooted (boot URC, lost settings, or a reset of the recovery ladder). */
  | { type: "reset"; reason: string }
  /** The data context dropped (e.g. +QIURC: "pdpdeact"). */
  | { type: "data-context-lost"; reason: string }
  | { type: "socket-closed"; socketId: number; reason: SocketCloseReason }
  | { type: "recovered"; step: RecoveryStep }
  | { type: "recovery-failed"; error: Error };

export interface Modem {
  readonly dialect: ModemDialectName;
  readonly at: AtEngine;
  /** Which SIM transports the family has, and in which order to try them. */
  readonly simAccess: SimAccessSupport;
  /** An AT port for modules/sim that retries `+CME ERROR: 14` (SIM busy) and waits out a running recovery. */
  readonly simPort: SimCommandPort;
  /** Largest payload of one send command / one read command. */
  readonly maxSendChunk: number;
  readonly maxReadChunk: number;

  /** Synchronise (AT until OK), echo off, numeric +CME errors, SIM ready (entering the PIN if given). */
  init(options?: InitOptions): Promise<void>;
  /** Polls AT+CPIN? until READY (SIM busy retried, PIN entered once if supplied). */
  waitForSim(options?: InitOptions): Promise<void>;
  identity(): Promise<ModemIdentity>;
  /** Radio on, PDP context, registration (polled and by URC), data context activation where needed. */
  attach(options: AttachOptions): Promise<AttachResult>;
  /** Deactivates the data context and turns the radio off (flight mode, SIM still reachable). */
  detach(): Promise<void>;
  /** Network time (AT+CCLK?) as a Date, for certificate validation. */
  networkTime(): Promise<Date>;
  signalQuality(): Promise<SignalQuality>;
  /** Opens a TCP connection to host:port (the modem resolves the name). */
  openTcp(host: string, port: number, options?: OpenTcpOptions): Promise<ModemSocket>;
  /** Runs the recovery ladder now; resolves with the step that brought the modem back. */
  recover(reason?: string): Promise<RecoveryStep>;
  /** Runs `handler` after every recovery that involved a modem reset (e.g. reopen SIM channels). */
  afterReset(handler: () => Promise<void>): () => void;
  onEvent(listener: (event: ModemEvent) => void): () => void;
  /** Power hooks of the board (no-ops when the board has none). */
  powerOn(): Promise<void>;
  powerOff(): Promise<void>;
  /** Stops timers and URC handlers, closes sockets locally (the AT engine stays open). */
  dispose(): void;
}
