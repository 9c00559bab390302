/**
 * Typed errors of the TLS client. Each protocol failure we detect is a class that knows the alert it
 * sends (RFC 8446 §6.2); alerts the peer sends become TlsAlertError. Every message says what was
 * wrong in words a device log reader can act on.
 */
import { AlertDescription, alertName } from "./constants.js";

export class TlsError extends Error {
  override name = "TlsError";
  /** The alert this failure sends to the peer (undefined: none is sent). */
  readonly alert: number | undefined;
  constructor(message: string, alert?: number) {
    super(message);
    this.alert = alert;
  }
}

/** The peer sent a fatal alert (or an unexpected warning). */
export class TlsAlertError extends TlsError {
  override name = "TlsAlertError";
  readonly description: number;
  readonly alertName: string;
  readonly level: number;
  constructor(description: number, level: number, during?: string) {
    super(`server sent alert ${alertName(description)} (${description})${during ? ` ${during}` : ""}`);
    this.description = description;
    this.alertName = alertName(description);
    this.level = level;
  }
}

/** A message or record that does not parse (decode_error). */
export class TlsDecodeError extends TlsError {
  override name = "TlsDecodeError";
  constructor(message: string) {
    super(message, AlertDescription.decode_error);
  }
}

/** A message that is not allowed in the current state (unexpected_message). */
export class TlsUnexpectedMessageError extends TlsError {
  override name = "TlsUnexpectedMessageError";
  constructor(message: string) {
    super(message, AlertDescription.unexpected_message);
  }
}

/** A record whose AEAD tag does not verify (bad_record_mac). */
export class TlsBadRecordMacError extends TlsError {
  override name = "TlsBadRecordMacError";
  constructor(message: string) {
    super(message, AlertDescription.bad_record_mac);
  }
}

/** A record longer than the negotiated limit (record_overflow). */
export class TlsRecordOverflowError extends TlsError {
  override name = "TlsRecordOverflowError";
  constructor(message: string) {
    super(message, AlertDescription.record_overflow);
  }
}

/** A syntactically valid field with a value that is not allowed (illegal_parameter). */
export class TlsIllegalParameterError extends TlsError {
  override name = "TlsIllegalParameterError";
  constructor(message: string, alert: number = AlertDescription.illegal_parameter) {
    super(message, alert);
  }
}

/** The server random carries the RFC 8446 §4.1.3 downgrade sentinel (illegal_parameter). */
export class TlsDowngradeError extends TlsIllegalParameterError {
  override name = "TlsDowngradeError";
}

/** The server sent an extension we did not offer (unsupported_extension). */
export class TlsUnsupportedExtensionError extends TlsError {
  override name = "TlsUnsupportedExtensionError";
  constructor(message: string) {
    super(message, AlertDescription.unsupported_extension);
  }
}

/** The server will not speak TLS 1.3 (protocol_version). */
export class TlsProtocolVersionError extends TlsError {
  override name = "TlsProtocolVersionError";
  constructor(message: string) {
    super(message, AlertDescription.protocol_version);
  }
}

/** No acceptable parameters in common (handshake_failure), or a required extension is missing. */
export class TlsHandshakeFailureError extends TlsError {
  override name = "TlsHandshakeFailureError";
  constructor(message: string, alert: number = AlertDescription.handshake_failure) {
    super(message, alert);
  }
}

/** The server's certificate chain was rejected (bad_certificate, unknown_ca, certificate_expired...). */
export class TlsCertificateError extends TlsError {
  override name = "TlsCertificateError";
  override readonly cause: unknown;
  constructor(message: string, alert: number, cause?: unknown) {
    super(message, alert);
    this.cause = cause;
  }
}

/** A CertificateVerify signature or a Finished MAC that does not verify (decrypt_error). */
export class TlsVerificationError extends TlsError {
  override name = "TlsVerificationError";
  constructor(message: string) {
    super(message, AlertDescription.decrypt_error);
  }
}

/** The client credential failed (certificate chain or signature): internal_error to the peer. */
export class TlsCredentialError extends TlsError {
  override name = "TlsCredentialError";
  override readonly cause: unknown;
  constructor(message: string, cause?: unknown) {
    super(message, AlertDescription.internal_error);
    this.cause = cause;
  }
}

/** The handshake did not finish in time. */
export class TlsTimeoutError extends TlsError {
  override name = "TlsTimeoutError";
}

/** The connection is closed (by us, by the peer, or by an earlier failure) or the transport ended early. */
export class TlsClosedError extends TlsError {
  override name = "TlsClosedError";
}

/** A bad option or a misuse of the API (no alert: nothing was wrong on the wire). */
export class TlsConfigError extends TlsError {
  override name = "TlsConfigError";
}
