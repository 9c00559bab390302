/**
 * The virtual modem's IP side as its dialects see it: a TCP stack that opens connections (real
 * ones on loopback, see loopback.ts) and a connection that buffers what the peer sent until the
 * dialect's read command drains it, like a modem's socket buffer. Host-neutral (no Node imports).
 */
import { CME, CmeError } from "../errors.js";
import type { VirtualModem } from "../virtual-modem.js";

/** Why a connect failed, in terms each dialect maps to its own error code. */
export type ConnectFailure =
  /** The name does not resolve (only loopback names and configured aliases do). */
  | "dns"
  /** Nothing listens there, or the address is not a loopback address. */
  | "refused"
  | "timeout";

export class VirtualConnectError extends Error {
  override name = "VirtualConnectError";
  constructor(
    readonly reason: ConnectFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface VirtualConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  /** Received bytes waiting to be read. */
  readonly available: number;
  /** Bytes handed to write() that the network has not taken yet. */
  readonly unsent: number;
  /** Total bytes written / read so far. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** The peer closed (FIN or reset); buffered bytes can still be read. */
  readonly peerClosed: boolean;
  /** Takes up to `max` buffered bytes (an empty array when none). */
  read(max: number): Uint8Array;
  write(bytes: Uint8Array): void;
  /** Closes this side; no callbacks follow. */
  close(): void;
  /** New bytes were buffered. */
  onData: (() => void) | undefined;
  /** The peer or the network closed the connection. */
  onPeerClose: (() => void) | undefined;
}

export interface VirtualTcpStack {
  /** Resolves when connected; rejects with VirtualConnectError. */
  connect(host: string, port: number, timeoutMs: number): Promise<VirtualConnection>;
}

/** The modem's TCP stack, or the dialect's "operation not supported" when the modem has none (in-memory tests). */
export function tcpStackOf(modem: VirtualModem): VirtualTcpStack {
  const stack = modem.tcp;
  if (!stack) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "this virtual modem has no TCP stack");
  return stack;
}

/** Per-modem socket table of a dialect, created on first use and emptied by the dialect's reset. */
export function socketTable<T>(modem: VirtualModem, dialect: string): Map<number, T> {
  return modem.extension(`${dialect}.sockets`, () => new Map<number, T>());
}

/** Upper-case hex of bytes. */
export function hexOf(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += (byte < 16 ? "0" : "") + byte.toString(16).toUpperCase();
  return out;
}

/** Bytes of an even-length hex string; CME 50 otherwise. */
export function bytesOfHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) throw new CmeError(CME.INCORRECT_PARAMETERS, "data is not hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The CIDR-free loopback test used for the modem's "network": 127.0.0.0/8 and ::1. */
export function isLoopbackAddress(address: string): boolean {
  if (address === "::1" || address === "0:0:0:0:0:0:0:1") return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(address);
  if (!v4) return false;
  const octets = v4.slice(1).map(Number);
  return octets.every((o) => o <= 255) && octets[0] === 127;
}

/** The modem's dotted IPv4 address on its data context (any value; the network is simulated). */
export const VIRTUAL_IP_ADDRESS = "10.64.0.2";
