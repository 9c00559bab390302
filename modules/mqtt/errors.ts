/**
 * Typed errors of the MQTT 3.1.1 client. Malformed input from the network, refusals by the broker,
 * timeouts and misuse by the caller are separate classes, so callers can react (reconnect, give up,
 * fix the configuration) without parsing messages.
 */

export class MqttError extends Error {
  override name = "MqttError";
  /** The lower-level failure behind this one (a TLS alert, a socket error), if any. */
  readonly reason: unknown;
  constructor(message: string, reason?: unknown) {
    super(message);
    this.reason = reason;
  }
}

// ---- bytes from the network that do not parse (the connection must be closed: MQTT-4.8.0-1) ----

/** A control packet that does not follow the MQTT 3.1.1 encoding rules. */
export class MqttMalformedPacketError extends MqttError {
  override name = "MqttMalformedPacketError";
}

/** A Remaining Length field longer than 4 bytes. */
export class MqttRemainingLengthError extends MqttMalformedPacketError {
  override name = "MqttRemainingLengthError";
}

/** Reserved fixed-header flags or reserved bits that are not the values the spec lists (MQTT-2.2.2-2). */
export class MqttReservedFlagsError extends MqttMalformedPacketError {
  override name = "MqttReservedFlagsError";
}

/** A length-prefixed string that runs past its packet, or is not well-formed UTF-8 / contains U+0000 (MQTT-1.5.3). */
export class MqttStringError extends MqttMalformedPacketError {
  override name = "MqttStringError";
}

/** A packet larger than the configured maximum: refused from its header, before its body is buffered. */
export class MqttPacketTooLargeError extends MqttMalformedPacketError {
  override name = "MqttPacketTooLargeError";
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(`packet of ${size} bytes exceeds the limit of ${limit} bytes`);
    this.size = size;
    this.limit = limit;
  }
}

// ---- well-formed packets that break the protocol ----

/** A packet that parses but is not allowed here (a server sending SUBSCRIBE, a SUBACK nobody asked for...). */
export class MqttProtocolError extends MqttError {
  override name = "MqttProtocolError";
}

// ---- CONNACK refusals (MQTT 3.1.1 Table 3.1) ----

/** The broker answered CONNECT with a non-zero return code. */
export class MqttConnectionRefusedError extends MqttError {
  override name = "MqttConnectionRefusedError";
  readonly returnCode: number;
  constructor(returnCode: number, message?: string) {
    super(message ?? `connection refused: return code ${returnCode} (reserved)`);
    this.returnCode = returnCode;
  }
}

/** Return code 1: the broker does not speak MQTT 3.1.1 (protocol level 4). */
export class MqttUnacceptableProtocolVersionError extends MqttConnectionRefusedError {
  override name = "MqttUnacceptableProtocolVersionError";
  constructor() {
    super(1, "connection refused: unacceptable protocol version (the broker does not accept MQTT 3.1.1)");
  }
}

/** Return code 2: the client identifier is not allowed. */
export class MqttIdentifierRejectedError extends MqttConnectionRefusedError {
  override name = "MqttIdentifierRejectedError";
  constructor() {
    super(2, "connection refused: client identifier rejected");
  }
}

/** Return code 3: the MQTT service is unavailable. */
export class MqttServerUnavailableError extends MqttConnectionRefusedError {
  override name = "MqttServerUnavailableError";
  constructor() {
    super(3, "connection refused: server unavailable");
  }
}

/** Return code 4: bad user name or password. */
export class MqttBadCredentialsError extends MqttConnectionRefusedError {
  override name = "MqttBadCredentialsError";
  constructor() {
    super(4, "connection refused: bad user name or password");
  }
}

/** Return code 5: the client is not authorized to connect. */
export class MqttNotAuthorizedError extends MqttConnectionRefusedError {
  override name = "MqttNotAuthorizedError";
  constructor() {
    super(5, "connection refused: not authorized");
  }
}

/** The typed error for a non-zero CONNACK return code. */
export function connectionRefusedError(returnCode: number): MqttConnectionRefusedError {
  switch (returnCode) {
    case 1:
      return new MqttUnacceptableProtocolVersionError();
    case 2:
      return new MqttIdentifierRejectedError();
    case 3:
      return new MqttServerUnavailableError();
    case 4:
      return new MqttBadCredentialsError();
    case 5:
      return new MqttNotAuthorizedError();
    default:
      return new MqttConnectionRefusedError(returnCode);
  }
}

// ---- operations ----

/** One or more topic filters of a SUBSCRIBE came back as 0x80 (failure) in the SUBACK. */
export class MqttSubscribeRefusedError extends MqttError {
  override name = "MqttSubscribeRefusedError";
  /** The filters the broker refused. */
  readonly refused: readonly string[];
  /** Every filter's SUBACK return code, in request order (0..2 granted QoS, 0x80 failure). */
  readonly returnCodes: readonly number[];
  constructor(refused: readonly string[], returnCodes: readonly number[]) {
    super(`subscription refused by the broker for ${refused.map((t) => JSON.stringify(t)).join(", ")}`);
    this.refused = refused;
    this.returnCodes = returnCodes;
  }
}

/** An acknowledgement (CONNACK, SUBACK, UNSUBACK, PUBACK) did not arrive in time; the connection is closed. */
export class MqttTimeoutError extends MqttError {
  override name = "MqttTimeoutError";
}

/** No PINGRESP arrived in time after a PINGREQ: the connection is declared dead and closed. */
export class MqttKeepAliveTimeoutError extends MqttTimeoutError {
  override name = "MqttKeepAliveTimeoutError";
}

/** The connection ended (peer closed, stream failed) while it was in use. `reason` holds the stream's error. */
export class MqttConnectionLostError extends MqttError {
  override name = "MqttConnectionLostError";
}

/** An operation on a client that is closed (or closing); pending operations fail with it when the connection ends. */
export class MqttClosedError extends MqttError {
  override name = "MqttClosedError";
}

/** A caller-supplied value the protocol cannot carry (a wildcard in a topic name, a string over 65535 bytes...). */
export class MqttArgumentError extends MqttError {
  override name = "MqttArgumentError";
}

/** The session already holds as many unacknowledged QoS 1 messages as it is allowed to. */
export class MqttInflightFullError extends MqttError {
  override name = "MqttInflightFullError";
}

/** A session snapshot (exported in-flight state) that is not consistent. */
export class MqttSessionError extends MqttError {
  override name = "MqttSessionError";
}
