/**
 * Typed errors of the IoT SAFE client. A failing status word becomes a subclass of
 * IotSafeStatusError whose message names the command, the object and the meaning, e.g.
 * `COMPUTE SIGNATURE INIT (private key id 01): 6985 conditions of use not satisfied`.
 */
import { SW, type StatusWord } from "../sim/status.js";

export class IotSafeError extends Error {
  override name = "IotSafeError";
}

/** Malformed TLV data (truncated, overlong, a length past the end...). */
export class TlvError extends IotSafeError {
  override name = "TlvError";
}

/** A response that parsed as TLV but does not hold what the command promises. */
export class IotSafeResponseError extends IotSafeError {
  override name = "IotSafeResponseError";
  constructor(
    readonly command: string,
    readonly object: string | undefined,
    detail: string,
  ) {
    super(`${command}${object ? ` (${object})` : ""}: ${detail}`);
  }
}

/** A caller's argument the applet cannot take (ID too long, digest of the wrong size...). */
export class IotSafeArgumentError extends IotSafeError {
  override name = "IotSafeArgumentError";
}

/** The applet answered with a failing status word. Subclasses name the common meanings. */
export class IotSafeStatusError extends IotSafeError {
  override name = "IotSafeStatusError";
  constructor(
    readonly command: string,
    readonly object: string | undefined,
    readonly status: StatusWord,
  ) {
    super(`${command}${object ? ` (${object})` : ""}: ${status.hex} ${status.meaning}`);
  }
}

/** 6A82: no such object (or, on SELECT, no such applet). */
export class ObjectNotFoundError extends IotSafeStatusError {
  override name = "ObjectNotFoundError";
}
/** 6985: wrong order (no open session, DH before PUT PUBLIC KEY, mode mismatch) or object not usable so. */
export class ConditionsNotSatisfiedError extends IotSafeStatusError {
  override name = "ConditionsNotSatisfiedError";
}
/** 6982: access conditions of the object forbid this. */
export class SecurityStatusError extends IotSafeStatusError {
  override name = "SecurityStatusError";
}
/** 6700: wrong Lc/Le or TLV length. */
export class WrongLengthError extends IotSafeStatusError {
  override name = "WrongLengthError";
}
/** 6A80: incorrect data (bad TLV). */
export class IncorrectDataError extends IotSafeStatusError {
  override name = "IncorrectDataError";
}
/** 6A86 / 6B00: incorrect P1/P2 (e.g. closing a session that is not open). */
export class IncorrectParametersError extends IotSafeStatusError {
  override name = "IncorrectParametersError";
}
/** 6A81: function not supported by this applet. */
export class FunctionNotSupportedError extends IotSafeStatusError {
  override name = "FunctionNotSupportedError";
}
/** 6D00: invalid instruction; usually the applet is not selected on this channel. */
export class InstructionNotSupportedError extends IotSafeStatusError {
  override name = "InstructionNotSupportedError";
}
/** 6E00: invalid class, after trying both class-byte forms. */
export class ClassNotSupportedError extends IotSafeStatusError {
  override name = "ClassNotSupportedError";
}
/** 6D01: the signature does not match (an error only where a match was required). */
export class SignatureMismatchError extends IotSafeStatusError {
  override name = "SignatureMismatchError";
}
/** 6400: applet store integrity issue (fatal). */
export class StoreIntegrityError extends IotSafeStatusError {
  override name = "StoreIntegrityError";
}
/** 6981: command incompatible with the object's structure. */
export class IncompatibleObjectError extends IotSafeStatusError {
  override name = "IncompatibleObjectError";
}
/** 6984: the object is being updated by remote admin; retry later. */
export class DataInvalidatedError extends IotSafeStatusError {
  override name = "DataInvalidatedError";
}
/** 6989: remote admin finished and the command failed, or capacity reached. */
export class RemoteAdminError extends IotSafeStatusError {
  override name = "RemoteAdminError";
}
/** 6A84: insufficient memory in the applet. */
export class InsufficientMemoryError extends IotSafeStatusError {
  override name = "InsufficientMemoryError";
}
/** 6F00: unknown error in the applet. */
export class UnknownAppletError extends IotSafeStatusError {
  override name = "UnknownAppletError";
}

type StatusErrorClass = new (command: string, object: string | undefined, status: StatusWord) => IotSafeStatusError;

const ERROR_CLASS_BY_SW: { readonly [sw: number]: StatusErrorClass } = {
  [SW.NOT_FOUND]: ObjectNotFoundError,
  [SW.REFERENCED_DATA_NOT_FOUND]: ObjectNotFoundError,
  [SW.CONDITIONS_NOT_SATISFIED]: ConditionsNotSatisfiedError,
  [SW.SECURITY_STATUS_NOT_SATISFIED]: SecurityStatusError,
  [SW.WRONG_LENGTH]: WrongLengthError,
  [SW.INCORRECT_DATA]: IncorrectDataError,
  [SW.INCORRECT_P1P2]: IncorrectParametersError,
  [SW.WRONG_P1P2]: IncorrectParametersError,
  [SW.FUNCTION_NOT_SUPPORTED]: FunctionNotSupportedError,
  [SW.INVALID_INSTRUCTION]: InstructionNotSupportedError,
  [SW.INVALID_CLASS]: ClassNotSupportedError,
  [SW.SIGNATURE_MISMATCH]: SignatureMismatchError,
  [SW.STORE_INTEGRITY]: StoreIntegrityError,
  [SW.INCOMPATIBLE_FILE_STRUCTURE]: IncompatibleObjectError,
  [SW.DATA_INVALIDATED]: DataInvalidatedError,
  [SW.REMOTE_ADMIN_FAILED]: RemoteAdminError,
  [SW.INSUFFICIENT_MEMORY]: InsufficientMemoryError,
  [SW.UNKNOWN_ERROR]: UnknownAppletError,
};

/** The typed error for a failing status word. */
export function statusError(command: string, object: string | undefined, status: StatusWord): IotSafeStatusError {
  const ErrorClass = ERROR_CLASS_BY_SW[status.value] ?? IotSafeStatusError;
  return new ErrorClass(command, object, status);
}
