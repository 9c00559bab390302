/**
 * Typed errors of the modem drivers. Each says what failed in words an integrator can act on
 * (no coverage, APN refused, SIM locked...), and keeps the AT error that caused it as `cause`.
 */

export class ModemError extends Error {
  override name = "ModemError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    if (options && "cause" in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The SIM needs a PIN (or PUK) that was not supplied, or refused the one given. */
export class SimLockedError extends ModemError {
  override name = "SimLockedError";
  constructor(
    readonly state: string,
    detail?: string,
  ) {
    super(detail ?? `SIM is locked (${state})${state === "SIM PIN" ? ": supply the PIN" : state === "SIM PUK" ? ": the PUK is needed" : ""}`);
  }
}

/** No SIM, or the SIM stayed busy / failed until the timeout. */
export class SimNotReadyError extends ModemError {
  override name = "SimNotReadyError";
}

/** The modem did not register (no coverage, searching until the timeout) or the network denied it. */
export class NoCoverageError extends ModemError {
  override name = "NoCoverageError";
  constructor(
    message: string,
    /** The last 27.007 registration status seen (0 not searching, 2 searching, 3 denied, 4 unknown). */
    readonly lastStatus: number | undefined,
  ) {
    super(message);
  }
}

/** The network (or the modem) refused to activate the data context for this APN. */
export class ApnRejectedError extends ModemError {
  override name = "ApnRejectedError";
  constructor(
    readonly apn: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`data context for APN ${JSON.stringify(apn)} was refused: ${detail}`, options);
  }
}

/** The modem has no network time yet (its clock still shows the power-on default). */
export class NetworkTimeUnavailableError extends ModemError {
  override name = "NetworkTimeUnavailableError";
}

/** An answer of the modem does not have the documented shape (input is hostile until parsed). */
export class ModemResponseError extends ModemError {
  override name = "ModemResponseError";
}

/** The operation is not offered by this dialect (e.g. sockets on the generic 27.007 driver). */
export class ModemUnsupportedError extends ModemError {
  override name = "ModemUnsupportedError";
}

/** No dialect with that name. */
export class UnknownModemDialectError extends ModemError {
  override name = "UnknownModemDialectError";
}

/** Every step of the recovery ladder failed, for every round. */
export class ModemRecoveryError extends ModemError {
  override name = "ModemRecoveryError";
}

/** Base of socket errors; `socketId` is the modem's socket/connection id when one was assigned. */
export class SocketError extends ModemError {
  override name = "SocketError";
  constructor(
    message: string,
    readonly socketId?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type SocketOpenFailure = "dns" | "refused" | "timeout" | "no-network" | "no-socket" | "other";

/** The connection could not be opened. `reason` classifies the vendor's error code. */
export class SocketOpenError extends SocketError {
  override name = "SocketOpenError";
  constructor(
    message: string,
    readonly reason: SocketOpenFailure,
    readonly code?: number,
    socketId?: number,
    options?: { cause?: unknown },
  ) {
    super(message, socketId, options);
  }
}

/** A write on a socket that the peer or this host closed. */
export class SocketClosedError extends SocketError {
  override name = "SocketClosedError";
}

/** The socket is gone because the modem reset or the data context dropped. */
export class SocketLostError extends SocketError {
  override name = "SocketLostError";
}

/** The modem did not accept the data (buffer full too long, send refused). */
export class SocketSendError extends SocketError {
  override name = "SocketSendError";
}

/** Reading the data the modem holds failed (bad framing, timeout): the byte stream can no longer be trusted. */
export class SocketReceiveError extends SocketError {
  override name = "SocketReceiveError";
}
