/** Typed errors of the card access layer (APDU codec, T=0 rules, channels, transports). */
import type { StatusWord } from "./status.js";

/** Base class of every card-access error. */
export class SimError extends Error {
  override name = "SimError";
}

/** A command APDU cannot be encoded (a field out of range, data too long for a short APDU...). */
export class ApduEncodingError extends SimError {
  override name = "ApduEncodingError";
}

/** Bytes that should be an APDU are malformed (shorter than SW1 SW2, inconsistent Lc...). */
export class ApduFormatError extends SimError {
  override name = "ApduFormatError";
}

/** The card answered a card-management command (MANAGE CHANNEL, SELECT) with a failing status word. */
export class CardStatusError extends SimError {
  override name = "CardStatusError";
  constructor(
    readonly command: string,
    readonly status: StatusWord,
  ) {
    super(`${command}: card answered ${status.hex} (${status.meaning})`);
  }
}

/** The T=0 exchange did not converge: too many GET RESPONSE / 6Cxx rounds, or too much data. */
export class T0ProtocolError extends SimError {
  override name = "T0ProtocolError";
}

/** A logical channel could not be opened, is out of range, or is used after close. */
export class ChannelError extends SimError {
  override name = "ChannelError";
}

/** None of the application identifiers could be selected. */
export class ApplicationNotFoundError extends SimError {
  override name = "ApplicationNotFoundError";
  constructor(
    readonly attempts: readonly { aid: string; outcome: string }[],
    detail?: string,
  ) {
    super(
      `no application selectable: ${attempts.map((a) => `${a.aid} → ${a.outcome}`).join("; ") || "no AID given"}${detail ? ` (${detail})` : ""}`,
    );
  }
}

/** The modem's answer to an AT SIM-access command is malformed (bad +CSIM/+CGLA/+CCHO line). */
export class SimTransportResponseError extends SimError {
  override name = "SimTransportResponseError";
}

/**
 * The modem refused the transport itself: `ERROR` or `+CME ERROR` to AT+CSIM / AT+CCHO / AT+CGLA.
 * A card access strategy falls back to another transport on this error.
 */
export class TransportRefusedError extends SimError {
  override name = "TransportRefusedError";
  constructor(
    readonly transport: string,
    message: string,
    /** The AT engine's error (AtCommandError / AtCmeError) that carried the refusal. */
    readonly reason?: Error,
  ) {
    super(`${transport}: ${message}${reason ? `: ${reason.message}` : ""}`);
  }
}
