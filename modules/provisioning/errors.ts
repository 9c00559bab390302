/**
 * Typed errors of touchless provisioning. Each refusal by the cloud and each check the device makes
 * on what the cloud sent has its own class, so the device app (and a person reading the log) can
 * tell "the cloud does not accept this SIM's claim" from "the cloud sent a certificate for another
 * key" without parsing messages.
 */

export class ProvisioningError extends Error {
  override name = "ProvisioningError";
  /** The lower-level failure behind this one (a TLS alert, an MQTT refusal, a certificate error). */
  readonly reason: unknown;
  constructor(message: string, reason?: unknown) {
    super(message);
    this.reason = reason;
  }
}

/** A configuration value the flow cannot work with. */
export class ProvisioningConfigError extends ProvisioningError {
  override name = "ProvisioningConfigError";
}

/**
 * The cloud refused the bootstrap (claim) credential: the TLS handshake ended with a certificate
 * alert, CONNECT was refused, or the provisioning topics were refused to it.
 */
export class ClaimRejectedError extends ProvisioningError {
  override name = "ClaimRejectedError";
}

/** A refusal the provisioning API sent on a `/rejected` topic, with the fields it carried. */
export class CloudRejectionError extends ProvisioningError {
  override name = "CloudRejectionError";
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    readonly errorCode: string | undefined,
    readonly errorMessage: string | undefined,
  ) {
    super(message);
  }
}

/** CreateCertificateFromCsr answered on its rejected topic. */
export class CsrRejectedError extends CloudRejectionError {
  override name = "CsrRejectedError";
}

/** RegisterThing answered on its rejected topic (e.g. a pre-provisioning hook said no). */
export class RegistrationRejectedError extends CloudRejectionError {
  override name = "RegistrationRejectedError";
}

/** The issued certificate carries a public key other than the one the SIM generated. */
export class CertificateKeyMismatchError extends ProvisioningError {
  override name = "CertificateKeyMismatchError";
}

/** The issued certificate does not chain to the configured trust anchors (or is not valid now). */
export class CertificateChainError extends ProvisioningError {
  override name = "CertificateChainError";
}

/** A provisioning answer that is not what the API promises (not JSON, a missing field, no PEM). */
export class ProvisioningResponseError extends ProvisioningError {
  override name = "ProvisioningResponseError";
}

/** No answer on either the accepted or the rejected topic in time. */
export class ProvisioningTimeoutError extends ProvisioningError {
  override name = "ProvisioningTimeoutError";
}
