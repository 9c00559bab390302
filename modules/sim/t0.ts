/**
 * ISO 7816-3 T=0 rules as modems hand them through AT+CSIM / AT+CGLA: the modem passes the card's
 * procedure status words up, so the host must
 * - answer `61xx` (and the GSM form `9Fxx`) with GET RESPONSE on the same channel, Le = xx,
 *   looping while the card keeps answering `61yy`;
 * - resend a command answered `6Cxx` with Le = xx;
 * - take `91xx` as success (a proactive command is pending; the modem fetches it).
 * Every loop is bounded; data accumulates up to a bound.
 */
import { concatBytes } from "../bytes/bytes.js";
import { type CommandApdu, decodeResponseApdu, encodeCommandApdu, type EncodeOptions, type ResponseApdu } from "./apdu.js";
import { T0ProtocolError } from "./errors.js";
import type { ApduCounters, ApduTransport, TransmitOptions } from "./transport.js";

export const INS_GET_RESPONSE = 0xc0;

export interface ExchangeOptions extends TransmitOptions, EncodeOptions {
  /** Most GET RESPONSE rounds for one command. Default 8. */
  maxGetResponses?: number;
  /** Most response data bytes collected for one command. Default 4096. */
  maxResponseBytes?: number;
  /**
   * CLA of GET RESPONSE: "same" (the command's own CLA, e.g. `81C0…` after an `81…` command, as
   * the ZARIOT SIM wants) or "interindustry" (`0n C0…`, channel kept). Default "same".
   */
  getResponseClass?: "same" | "interindustry";
  /** Called with every APDU and its raw answer (logging, traces). */
  trace?: (command: Uint8Array, response: Uint8Array) => void;
}

/** Most 6Cxx resends of one command: the card names the exact length, a second 6C means it is confused. */
const MAX_WRONG_LE_RESENDS = 2;

async function send(transport: ApduTransport, command: CommandApdu, counters: ApduCounters | undefined, options: ExchangeOptions): Promise<ResponseApdu> {
  const bytes = encodeCommandApdu(command, options);
  const timeout = options.timeoutMs === undefined ? undefined : { timeoutMs: options.timeoutMs };
  const answer = await transport.transmit(bytes, timeout);
  counters?.record(bytes.length, answer.length);
  options.trace?.(bytes, answer);
  return decodeResponseApdu(answer);
}

async function sendWithLeCorrection(transport: ApduTransport, command: CommandApdu, counters: ApduCounters | undefined, options: ExchangeOptions): Promise<ResponseApdu> {
  let response = await send(transport, command, counters, options);
  for (let resends = 0; response.status.correctLe !== undefined; resends++) {
    if (resends >= MAX_WRONG_LE_RESENDS) {
      throw new T0ProtocolError(`card kept answering ${response.status.hex} (wrong Le) after ${resends} resends`);
    }
    response = await send(transport, { ...command, le: response.status.correctLe }, counters, options);
  }
  return response;
}

/** Sends `command` and follows the T=0 procedure status words; resolves with the final data and SW. */
export async function exchangeApdu(transport: ApduTransport, command: CommandApdu, counters?: ApduCounters, options: ExchangeOptions = {}): Promise<ResponseApdu> {
  const maxGetResponses = options.maxGetResponses ?? 8;
  const maxBytes = options.maxResponseBytes ?? 4096;
  let response = await sendWithLeCorrection(transport, command, counters, options);
  // Some modems run GET RESPONSE themselves, so data may already be here; keep it.
  const parts: Uint8Array[] = [response.data];
  let total = response.data.length;
  const getResponseCla = options.getResponseClass === "interindustry" ? command.cla & 0x7f : command.cla;
  for (let rounds = 0; response.status.responseBytesAvailable !== undefined; rounds++) {
    if (rounds >= maxGetResponses) {
      throw new T0ProtocolError(`card still answers ${response.status.hex} after ${rounds} GET RESPONSE rounds`);
    }
    const getResponse: CommandApdu = { cla: getResponseCla, ins: INS_GET_RESPONSE, p1: 0, p2: 0, le: response.status.responseBytesAvailable };
    response = await sendWithLeCorrection(transport, getResponse, counters, options);
    total += response.data.length;
    if (total > maxBytes) throw new T0ProtocolError(`response exceeds ${maxBytes} bytes`);
    parts.push(response.data);
  }
  if (total > maxBytes) throw new T0ProtocolError(`response exceeds ${maxBytes} bytes`);
  return { data: parts.length === 1 ? parts[0]! : concatBytes(...parts), status: response.status };
}
