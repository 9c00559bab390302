/**
 * APDU transports over the AT engine:
 * - `CsimTransport`: `AT+CSIM=<len>,"<apdu>"` → `+CSIM: <len>,"<response>"` (27.007 §8.17). The
 *   APDU goes to the card as is, so the host codes the logical channel into CLA.
 * - `CglaTransport`: `AT+CGLA=<sid>,<len>,"<apdu>"` → `+CGLA: <len>,"<response>"` (27.007 §8.43) on a
 *   session the modem opened with AT+CCHO; the modem codes the channel, the host sends channel 0.
 * `<len>` counts hex characters in both directions. Answers are parsed leniently where modems
 * differ (quotes or none, spaces, stale lines before the answer) and strictly everywhere else.
 */
import { fromHex } from "../bytes/bytes.js";
import { AtCmeError, AtCommandError } from "../at/errors.js";
import { apduHex } from "./apdu.js";
import { ApduEncodingError, SimError, SimTransportResponseError, TransportRefusedError } from "./errors.js";
import type { ApduTransport, AtCommandPort, TransmitOptions } from "./transport.js";

/** A command APDU is at most 5 + 255 + 1 bytes; a response at most 256 + 2. */
const MAX_COMMAND_BYTES = 261;
const MAX_RESPONSE_BYTES = 258;

/** `+CME ERROR` codes that say the SIM itself is unusable right now (not that the command is refused). */
const SIM_STATE_CME_CODES = new Set([5, 10, 11, 12, 13, 14, 15, 16, 17, 18]);

/** The SIM cannot be reached: not inserted, PIN/PUK required, busy, failed (`+CME ERROR` 10–18). */
export class SimUnavailableError extends SimError {
  override name = "SimUnavailableError";
  constructor(
    readonly code: number,
    readonly reason: Error,
  ) {
    super(`SIM unavailable: ${reason.message}`);
  }
}

/**
 * Maps an AT engine error for a SIM-access command: a SIM-state `+CME ERROR` becomes
 * SimUnavailableError, any other failing final result (ERROR, other +CME ERROR) becomes
 * TransportRefusedError (the cue to fall back to the other transport); timeouts and link
 * errors pass through unchanged.
 */
export function mapAtError(transport: string, error: unknown): unknown {
  if (error instanceof AtCmeError && error.code !== undefined && SIM_STATE_CME_CODES.has(error.code)) {
    return new SimUnavailableError(error.code, error);
  }
  if (error instanceof AtCommandError) return new TransportRefusedError(transport, "modem refused the command", error);
  return error;
}

/**
 * Finds the answer line `<prefix> <len>,"<hex>"` among `lines` (the last one: some modems repeat
 * earlier answers before it) and returns the response bytes.
 */
export function parseSimAccessAnswer(prefix: string, lines: readonly string[], transport: string): Uint8Array {
  let line: string | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.startsWith(prefix)) {
      line = lines[i]!;
      break;
    }
  }
  if (line === undefined) throw new SimTransportResponseError(`${transport}: no ${prefix} line in the answer`);
  if (line.length > 2 * MAX_RESPONSE_BYTES + 32) throw new SimTransportResponseError(`${transport}: ${prefix} line of ${line.length} characters is too long`);
  const match = /^\s*(\d{1,4})\s*,\s*("?)([0-9A-Fa-f]*)\2\s*$/.exec(line.slice(prefix.length));
  if (!match) throw new SimTransportResponseError(`${transport}: malformed answer ${JSON.stringify(line.slice(0, 80))}`);
  const declared = Number(match[1]);
  const hex = match[3]!;
  if (hex.length % 2 !== 0) throw new SimTransportResponseError(`${transport}: answer has an odd number (${hex.length}) of hex digits`);
  if (hex.length < 4) throw new SimTransportResponseError(`${transport}: answer of ${hex.length / 2} bytes has no status word`);
  // 27.007 counts hex characters; tolerate a modem that counts bytes, nothing else.
  if (declared !== hex.length && declared !== hex.length / 2) {
    throw new SimTransportResponseError(`${transport}: answer declares length ${declared} but carries ${hex.length} hex digits`);
  }
  return fromHex(hex);
}

function commandHex(apdu: Uint8Array): string {
  if (apdu.length < 4 || apdu.length > MAX_COMMAND_BYTES) throw new ApduEncodingError(`APDU of ${apdu.length} bytes cannot be sent`);
  return apduHex(apdu);
}

export interface AtTransportOptions {
  /** Timeout when the caller gives none (default 10000: a SIM is slow, and the modem may poll it meanwhile). */
  defaultTimeoutMs?: number;
}

export class CsimTransport implements ApduTransport {
  readonly name = "AT+CSIM";
  constructor(
    readonly at: AtCommandPort,
    readonly options: AtTransportOptions = {},
  ) {}

  async transmit(apdu: Uint8Array, options: TransmitOptions = {}): Promise<Uint8Array> {
    const hex = commandHex(apdu);
    let response;
    try {
      response = await this.at.send(`AT+CSIM=${hex.length},"${hex}"`, {
        prefix: "+CSIM:",
        timeoutMs: options.timeoutMs ?? this.options.defaultTimeoutMs ?? 10000,
      });
    } catch (error) {
      throw mapAtError(this.name, error);
    }
    return parseSimAccessAnswer("+CSIM:", response.lines, this.name);
  }
}

/** A session id as the modem printed it (decimal, or a hex handle on Sierra modems). */
export type SessionId = string;

export function checkSessionId(sessionId: string): void {
  if (!/^[0-9A-Fa-f]{1,32}$/.test(sessionId)) throw new SimTransportResponseError(`invalid +CCHO session id ${JSON.stringify(sessionId.slice(0, 40))}`);
}

export class CglaTransport implements ApduTransport {
  readonly name: string;
  constructor(
    readonly at: AtCommandPort,
    readonly sessionId: SessionId,
    readonly options: AtTransportOptions = {},
  ) {
    checkSessionId(sessionId);
    this.name = `AT+CGLA session ${sessionId}`;
  }

  async transmit(apdu: Uint8Array, options: TransmitOptions = {}): Promise<Uint8Array> {
    const hex = commandHex(apdu);
    let response;
    try {
      response = await this.at.send(`AT+CGLA=${this.sessionId},${hex.length},"${hex}"`, {
        prefix: "+CGLA:",
        timeoutMs: options.timeoutMs ?? this.options.defaultTimeoutMs ?? 10000,
      });
    } catch (error) {
      throw mapAtError(this.name, error);
    }
    return parseSimAccessAnswer("+CGLA:", response.lines, this.name);
  }
}

/**
 * The session id in the answer to AT+CCHO: `+CCHO: <id>` (Nordic, Telit, Sierra, Quectel) or a
 * bare `<id>` line (27.007 itself, Fibocom). The last matching line wins; anything else is ignored.
 */
export function parseCchoAnswer(lines: readonly string[]): SessionId {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    const match = /^(?:\+CCHO:\s*)?"?([0-9A-Fa-f]{1,32})"?$/.exec(line);
    if (match) return match[1]!;
  }
  throw new SimTransportResponseError(`AT+CCHO: no session id in the answer ${JSON.stringify(lines.join(" | ").slice(0, 80))}`);
}
