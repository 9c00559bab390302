/**
 * Server authentication: the certificate chain through modules/crypto/path.ts (anchors, validity,
 * hostname, EKU serverAuth, pins) and the CertificateVerify signature with the leaf's key.
 * Certificate problems map to the alert RFC 8446 §6.2 names for them; nothing is skipped.
 */
import { CryptoError, TLS_SIGNATURE_SCHEMES, type CryptoProvider, type PublicKey } from "../crypto/provider.js";
import { verifyCertificateChain, type PinSet, type TrustStore, type VerifiedPath } from "../crypto/path.js";
import { CertificateError, type CertificateErrorReason } from "../crypto/x509.js";
import { AlertDescription, signatureSchemeName } from "./constants.js";
import { TlsCertificateError, TlsIllegalParameterError, TlsVerificationError } from "./errors.js";
import { certificateVerifyContent } from "./messages.js";

const ALERT_FOR_REASON: Record<CertificateErrorReason, number> = {
  malformed: AlertDescription.bad_certificate,
  untrusted: AlertDescription.unknown_ca,
  expired: AlertDescription.certificate_expired,
  "not-yet-valid": AlertDescription.certificate_expired,
  "hostname-mismatch": AlertDescription.bad_certificate,
  "bad-signature": AlertDescription.bad_certificate,
  "bad-key": AlertDescription.bad_certificate,
  "unsupported-algorithm": AlertDescription.unsupported_certificate,
  "not-a-ca": AlertDescription.bad_certificate,
  "path-too-long": AlertDescription.bad_certificate,
  "bad-key-usage": AlertDescription.unsupported_certificate,
  "bad-eku": AlertDescription.unsupported_certificate,
  "unsupported-critical-extension": AlertDescription.unsupported_certificate,
  "pin-mismatch": AlertDescription.bad_certificate,
};

export interface ServerChainOptions {
  provider: CryptoProvider;
  trustStore: TrustStore;
  /** Epoch milliseconds. */
  time: number;
  serverName: string;
  pins?: PinSet;
}

/** Validates the server's chain; throws TlsCertificateError (with the matching alert) on any failure. */
export function authenticateServerChain(chain: Uint8Array[], options: ServerChainOptions): VerifiedPath {
  try {
    return verifyCertificateChain(chain, {
      provider: options.provider,
      trustStore: options.trustStore,
      time: options.time,
      hostname: options.serverName,
      purpose: "serverAuth",
      ...(options.pins ? { pins: options.pins } : {}),
    });
  } catch (error) {
    if (error instanceof CertificateError) {
      throw new TlsCertificateError(`server certificate rejected (${error.reason}): ${error.message}`, ALERT_FOR_REASON[error.reason] ?? AlertDescription.bad_certificate, error);
    }
    throw error;
  }
}

/** Whether `scheme` can be used with `key` in a TLS 1.3 CertificateVerify. */
export function schemeMatchesKey(scheme: number, key: PublicKey): boolean {
  const info = TLS_SIGNATURE_SCHEMES[scheme];
  if (!info) return false;
  if (info.algorithm.kind === "ecdsa") return key.kind === "ec" && key.curve === info.curve;
  if (info.algorithm.kind === "rsa-pss") return key.kind === "rsa";
  return false; // PKCS#1 v1.5 is never allowed in a TLS 1.3 CertificateVerify (RFC 8446 §4.2.3)
}

/**
 * Checks the server's CertificateVerify: `scheme` must be one we offered and fit the leaf key, and
 * the signature must verify over the RFC 8446 §4.4.3 content for `transcriptHash`.
 */
export function verifyServerSignature(
  provider: CryptoProvider,
  offeredSchemes: readonly number[],
  key: PublicKey | undefined,
  scheme: number,
  signature: Uint8Array,
  transcriptHash: Uint8Array,
): void {
  if (offeredSchemes.indexOf(scheme) < 0) {
    throw new TlsIllegalParameterError(`server signed CertificateVerify with ${signatureSchemeName(scheme)}, which we did not offer`);
  }
  if (!key) throw new TlsCertificateError("server certificate key is of a kind this client cannot use", AlertDescription.unsupported_certificate);
  if (!schemeMatchesKey(scheme, key)) {
    const keyKind = key.kind === "ec" ? `EC ${key.curve}` : "RSA";
    throw new TlsIllegalParameterError(`server used ${signatureSchemeName(scheme)} with an ${keyKind} certificate key`);
  }
  const content = certificateVerifyContent("server", transcriptHash);
  let valid: boolean;
  try {
    valid = provider.verify(TLS_SIGNATURE_SCHEMES[scheme]!.algorithm, key, content, signature);
  } catch (error) {
    if (error instanceof CryptoError) throw new TlsCertificateError(`server certificate key is unusable: ${error.message}`, AlertDescription.bad_certificate, error);
    throw error;
  }
  if (!valid) throw new TlsVerificationError(`server CertificateVerify signature (${signatureSchemeName(scheme)}) does not verify with the certificate's key`);
}
