/**
 * Typed errors of the AT engine. Every error that concerns one command names it in its message
 * (shortened when long, e.g. a 500-character AT+CSIM) and keeps the full text in `.command`.
 */

/** How a command is shown in messages: long commands (APDU hex) are cut, the full text stays in `.command`. */
export function describeCommand(command: string): string {
  return command.length > 48 ? `${command.slice(0, 40)}…` : command;
}

function prefixed(command: string | undefined, detail: string): string {
  return command === undefined ? detail : `${describeCommand(command)}: ${detail}`;
}

/** Base class of every AT engine error. */
export class AtError extends Error {
  override name = "AtError";
  readonly command: string | undefined;
  constructor(command: string | undefined, detail: string) {
    super(prefixed(command, detail));
    this.command = command;
  }
}

/** The command ended with a failing final result code (ERROR, NO CARRIER, BUSY, a declared error result...). */
export class AtCommandError extends AtError {
  override name = "AtCommandError";
  readonly final: string;
  constructor(command: string, final: string, detail = final) {
    super(command, detail);
    this.final = final;
  }
}

/** Meaning of the common `+CME ERROR` codes (3GPP TS 27.007 §9.2.1). */
export const CME_ERROR_TEXT: { readonly [code: number]: string } = {
  0: "phone failure",
  1: "no connection to phone",
  2: "phone-adaptor link reserved",
  3: "operation not allowed",
  4: "operation not supported",
  5: "PH-SIM PIN required",
  10: "SIM not inserted",
  11: "SIM PIN required",
  12: "SIM PUK required",
  13: "SIM failure",
  14: "SIM busy",
  15: "SIM wrong",
  16: "incorrect password",
  17: "SIM PIN2 required",
  18: "SIM PUK2 required",
  20: "memory full",
  21: "invalid index",
  22: "not found",
  23: "memory failure",
  30: "no network service",
  31: "network timeout",
  32: "network not allowed - emergency calls only",
  50: "incorrect parameters",
  100: "unknown",
};

/** Meaning of the common `+CMS ERROR` codes (3GPP TS 27.005 §3.2.5). */
export const CMS_ERROR_TEXT: { readonly [code: number]: string } = {
  300: "ME failure",
  301: "SMS service of ME reserved",
  302: "operation not allowed",
  303: "operation not supported",
  304: "invalid PDU mode parameter",
  305: "invalid text mode parameter",
  310: "SIM not inserted",
  311: "SIM PIN required",
  313: "SIM failure",
  314: "SIM busy",
  315: "SIM wrong",
  320: "memory failure",
  321: "invalid memory index",
  322: "memory full",
  330: "SMSC address unknown",
  331: "no network service",
  332: "network timeout",
  500: "unknown error",
};

/**
 * Splits the argument of `+CME ERROR: <arg>` / `+CMS ERROR: <arg>`: numeric (CMEE=1) gives the
 * code and the table's meaning; verbose text (CMEE=2) gives the text, and the code when the
 * text is exactly one of the table's meanings.
 */
function parseErrorArgument(argument: string, table: { readonly [code: number]: string }): { code: number | undefined; text: string | undefined } {
  if (/^\d{1,5}$/.test(argument)) {
    const code = Number(argument);
    return { code, text: table[code] };
  }
  const lower = argument.toLowerCase();
  for (const key of Object.keys(table)) {
    if (table[Number(key)]!.toLowerCase() === lower) return { code: Number(key), text: argument };
  }
  return { code: undefined, text: argument === "" ? undefined : argument };
}

function describeCodedError(kind: string, argument: string, code: number | undefined, text: string | undefined): string {
  if (code !== undefined && String(code) === argument) return text ? `${kind}: ${code} (${text})` : `${kind}: ${code}`;
  return `${kind}: ${argument}`;
}

/** `+CME ERROR: <n|text>`: an equipment / SIM / network error (27.007). */
export class AtCmeError extends AtCommandError {
  override name = "AtCmeError";
  /** Numeric code, or undefined when the modem sent text that is not a known meaning. */
  readonly code: number | undefined;
  /** Meaning of the code, or the modem's own text. */
  readonly text: string | undefined;
  constructor(command: string, final: string, argument: string) {
    const { code, text } = parseErrorArgument(argument, CME_ERROR_TEXT);
    super(command, final, describeCodedError("+CME ERROR", argument, code, text));
    this.code = code;
    this.text = text;
  }
}

/** `+CMS ERROR: <n|text>`: a message-service error (27.005). */
export class AtCmsError extends AtCommandError {
  override name = "AtCmsError";
  readonly code: number | undefined;
  readonly text: string | undefined;
  constructor(command: string, final: string, argument: string) {
    const { code, text } = parseErrorArgument(argument, CMS_ERROR_TEXT);
    super(command, final, describeCodedError("+CMS ERROR", argument, code, text));
    this.code = code;
    this.text = text;
  }
}

/** No final result code arrived within the command's timeout. The engine resynchronises next. */
export class AtTimeoutError extends AtError {
  override name = "AtTimeoutError";
  readonly timeoutMs: number;
  constructor(command: string, timeoutMs: number) {
    super(command, `no final result code within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The command in flight was given up before its timeout because no answer can come (the modem rebooted). */
export class AtAbandonedError extends AtError {
  override name = "AtAbandonedError";
  constructor(command: string, reason: string) {
    super(command, `abandoned: ${reason}`);
  }
}

/** The modem did not answer `AT` with `OK` within the bounded resynchronisation attempts. */
export class AtResyncError extends AtError {
  override name = "AtResyncError";
  readonly attempts: number;
  constructor(command: string | undefined, attempts: number) {
    super(command, `modem did not answer AT with OK (resynchronisation failed after ${attempts} attempts)`);
    this.attempts = attempts;
  }
}

/** A received line exceeded the configured maximum length. */
export class AtLineTooLongError extends AtError {
  override name = "AtLineTooLongError";
  readonly maxLineLength: number;
  constructor(command: string | undefined, maxLineLength: number) {
    super(command, `response line longer than ${maxLineLength} bytes`);
    this.maxLineLength = maxLineLength;
  }
}

/** The lines and data of one response together exceeded the configured maximum. */
export class AtResponseTooLongError extends AtError {
  override name = "AtResponseTooLongError";
  constructor(command: string, maxResponseLength: number) {
    super(command, `response longer than ${maxResponseLength} bytes`);
  }
}

/** A length-framed data header announced a length that is not a whole number or exceeds the maximum. */
export class AtFramingError extends AtError {
  override name = "AtFramingError";
}

/** The byte link closed (or was closed): pending and queued commands reject with this. */
export class AtClosedError extends AtError {
  override name = "AtClosedError";
  constructor(command: string | undefined, reason?: Error) {
    super(command, reason ? `AT link closed: ${reason.message}` : "AT link closed");
  }
}

/** Too many commands are already waiting in the queue. */
export class AtQueueFullError extends AtError {
  override name = "AtQueueFullError";
  constructor(command: string, maxQueueLength: number) {
    super(command, `AT command queue is full (${maxQueueLength} waiting)`);
  }
}

/** The command text or its options cannot be sent (empty, CR/LF inside, non-ASCII, bad prompt...). */
export class AtInvalidCommandError extends AtError {
  override name = "AtInvalidCommandError";
}
