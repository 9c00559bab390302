/** How a command fails on the wire: plain `ERROR`, or `+CME ERROR: <err>` depending on AT+CMEE. */

/** The command line is malformed or names an unknown command: always answered with plain `ERROR`. */
export class AtSyntaxError extends Error {
  override name = "AtSyntaxError";
}

/** A 27.007 §9.2 mobile-equipment error; `ERROR`, `+CME ERROR: <code>` or `+CME ERROR: <text>` per AT+CMEE. */
export class CmeError extends Error {
  override name = "CmeError";
  constructor(
    readonly code: number,
    detail?: string,
  ) {
    super(detail ?? `+CME ERROR: ${code} (${cmeText(code)})`);
  }
}

/** The +CME ERROR codes the virtual modem uses (27.007 §9.2.1). */
export const CME = {
  PHONE_FAILURE: 0,
  OPERATION_NOT_ALLOWED: 3,
  OPERATION_NOT_SUPPORTED: 4,
  SIM_NOT_INSERTED: 10,
  SIM_PIN_REQUIRED: 11,
  SIM_PUK_REQUIRED: 12,
  SIM_FAILURE: 13,
  SIM_BUSY: 14,
  SIM_WRONG: 15,
  INCORRECT_PASSWORD: 16,
  MEMORY_FULL: 20,
  INVALID_INDEX: 21,
  NOT_FOUND: 22,
  NO_NETWORK_SERVICE: 30,
  NETWORK_TIMEOUT: 31,
  INCORRECT_PARAMETERS: 50,
  UNKNOWN: 100,
} as const;

const CME_TEXT: Record<number, string> = {
  0: "phone failure",
  3: "operation not allowed",
  4: "operation not supported",
  10: "SIM not inserted",
  11: "SIM PIN required",
  12: "SIM PUK required",
  13: "SIM failure",
  14: "SIM busy",
  15: "SIM wrong",
  16: "incorrect password",
  20: "memory full",
  21: "invalid index",
  22: "not found",
  30: "no network service",
  31: "network timeout",
  50: "Incorrect parameters",
  100: "unknown",
};

/** The verbose (AT+CMEE=2) text of a code; "unknown" for codes without one. */
export function cmeText(code: number): string {
  return CME_TEXT[code] ?? "unknown";
}

/** A command waited for data bytes after its prompt and they did not all come in time. */
export class DataTimeoutError extends Error {
  override name = "DataTimeoutError";
}

/** `startVirtualModem` / `modemDialect` was asked for a dialect nobody registered. */
export class UnknownDialectError extends Error {
  override name = "UnknownDialectError";
}
