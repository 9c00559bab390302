/**
 * The development PKI: a P-256 CA for the simulator, client certificates for keys that live in
 * the virtual SIM, and server certificates (SAN + serverAuth) for the virtual cloud.
 * Never for production: keys are written to disk in clear.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CertificateBuildError,
  KEY_USAGE,
  OID,
  buildCertificate,
  certificateParts,
  encodeName,
  extensions,
  keyIdentifier,
  p256SubjectPublicKeyInfo,
  subjectPublicKeyInfoOf,
} from "./certificate.js";
import { derFromPemOrDer, pemEncode } from "./pem.js";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface DevCa {
  certificateDer: Uint8Array;
  certificatePem: string;
  privateKey: KeyObject;
  /** PKCS#8 PEM of the private key. */
  privateKeyPem: string;
  /** The CA's subject Name (DER): the issuer of what it signs. */
  subject: Uint8Array;
  /** The CA's key identifier (its subjectKeyIdentifier, or SHA-1 of its key). */
  keyIdentifier: Uint8Array;
}

export interface ValidityOptions {
  /** Validity in days from `now` (notBefore is `now` − 1 hour, for clock skew). */
  days?: number;
  /** Milliseconds since the epoch; default Date.now(). */
  now?: number;
}

/** A random positive serial of 16 bytes (RFC 5280 allows up to 20). */
export function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, and never a leading zero octet
  return serial;
}

function validity(options: ValidityOptions, defaultDays: number): { notBefore: number; notAfter: number } {
  const days = options.days ?? defaultDays;
  if (!Number.isFinite(days) || days <= 0) throw new CertificateBuildError(`validity of ${days} days`);
  const now = options.now ?? Date.now();
  return { notBefore: now - HOUR_MS, notAfter: now + days * DAY_MS };
}

/** Creates a self-signed P-256 development CA. */
export function createDevCa(options: ValidityOptions & { cn?: string } = {}): DevCa {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = subjectPublicKeyInfoOf(privateKey);
  const id = keyIdentifier(spki);
  const name = encodeName({ cn: options.cn ?? "iotsafe-xs development CA", o: "iotsafe-xs simulator" });
  const certificateDer = buildCertificate({
    serial: randomSerial(),
    issuer: name,
    subject: name,
    ...validity(options, 3650),
    subjectPublicKeyInfo: spki,
    extensions: [
      extensions.basicConstraints(true),
      extensions.keyUsage([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
      extensions.subjectKeyIdentifier(id),
      extensions.authorityKeyIdentifier(id),
    ],
    signer: privateKey,
  });
  return loadDevCa(certificateDer, privateKey.export({ type: "pkcs8", format: "pem" }) as string);
}

/**
 * A CA from its certificate (PEM or DER) and private key (PEM: SEC1 "EC PRIVATE KEY" or PKCS#8;
 * P-256, P-384 or RSA). Checks that the key belongs to the certificate and that it is a CA.
 */
export function loadDevCa(certificate: Uint8Array | string, privateKeyPem: string): DevCa {
  const certificateDer = derFromPemOrDer(typeof certificate === "string" ? Buffer.from(certificate) : certificate);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificateDer);
  } catch (error) {
    throw new CertificateBuildError(`CA certificate does not parse: ${(error as Error).message}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw new CertificateBuildError(`CA key does not parse: ${(error as Error).message}`);
  }
  const keySpki = Buffer.from(subjectPublicKeyInfoOf(privateKey));
  const certSpki = x509.publicKey.export({ type: "spki", format: "der" });
  if (!keySpki.equals(certSpki)) throw new CertificateBuildError("the CA key does not belong to the CA certificate");
  if (!x509.ca) throw new CertificateBuildError("the CA certificate is not a CA (basicConstraints cA is not set)");
  const parts = certificateParts(certificateDer);
  return {
    certificateDer,
    certificatePem: pemEncode("CERTIFICATE", certificateDer),
    privateKey,
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    subject: parts.subject,
    keyIdentifier: parts.subjectKeyIdentifier ?? keyIdentifier(parts.subjectPublicKeyInfo),
  };
}

export function loadDevCaFiles(certificatePath: string, keyPath: string): DevCa {
  return loadDevCa(new Uint8Array(readFileSync(certificatePath)), readFileSync(keyPath, "utf8"));
}

/** Writes ca.pem and ca.key (owner-only) into `dir`; refuses to overwrite unless `force`. */
export function writeDevCa(ca: DevCa, dir: string, force = false): { certificatePath: string; keyPath: string } {
  mkdirSync(dir, { recursive: true });
  const certificatePath = join(dir, "ca.pem");
  const keyPath = join(dir, "ca.key");
  if (!force) for (const path of [certificatePath, keyPath]) if (existsSync(path)) throw new CertificateBuildError(`${path} exists (use --force to replace it)`);
  writeFileSync(certificatePath, ca.certificatePem);
  writeFileSync(keyPath, ca.privateKeyPem, { mode: 0o600 });
  return { certificatePath, keyPath };
}

/**
 * A TLS client certificate for a P-256 public key held elsewhere (the SIM): subject CN, issuer the
 * CA, keyUsage digitalSignature, extendedKeyUsage clientAuth. Returns DER.
 */
export function issueClientCertificate(ca: DevCa, options: ValidityOptions & { cn: string; publicKey: Uint8Array }): Uint8Array {
  const spki = p256SubjectPublicKeyInfo(options.publicKey);
  return buildCertificate({
    serial: randomSerial(),
    issuer: ca.subject,
    subject: encodeName({ cn: options.cn }),
    ...validity(options, 365),
    subjectPublicKeyInfo: spki,
    extensions: [
      extensions.basicConstraints(false),
      extensions.keyUsage([KEY_USAGE.digitalSignature]),
      extensions.extendedKeyUsage([OID.clientAuth]),
      extensions.subjectKeyIdentifier(keyIdentifier(spki)),
      extensions.authorityKeyIdentifier(ca.keyIdentifier),
    ],
    signer: ca.privateKey,
  });
}

export interface ServerCertificate {
  certificateDer: Uint8Array;
  certificatePem: string;
  privateKey: KeyObject;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** certificatePem followed by the CA certificate, for servers that send the chain. */
  chainPem: string;
}

/**
 * A TLS server certificate with a fresh P-256 key (unless one is given): subjectAltName from
 * `dns` and `ip`, keyUsage digitalSignature, extendedKeyUsage serverAuth.
 */
export function issueServerCertificate(
  ca: DevCa,
  options: ValidityOptions & { cn: string; dns?: string[]; ip?: string[]; privateKey?: KeyObject },
): ServerCertificate {
  const privateKey = options.privateKey ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
  const dns = options.dns ?? [];
  const ip = options.ip ?? [];
  const certificateDer = buildCertificate({
    serial: randomSerial(),
    issuer: ca.subject,
    subject: encodeName({ cn: options.cn }),
    ...validity(options, 365),
    subjectPublicKeyInfo: spki,
    extensions: [
      extensions.basicConstraints(false),
      extensions.keyUsage([KEY_USAGE.digitalSignature]),
      extensions.extendedKeyUsage([OID.serverAuth]),
      ...(dns.length + ip.length > 0 ? [extensions.subjectAltName(dns, ip)] : []),
      extensions.subjectKeyIdentifier(keyIdentifier(spki)),
      extensions.authorityKeyIdentifier(ca.keyIdentifier),
    ],
    signer: ca.privateKey,
  });
  const certificatePem = pemEncode("CERTIFICATE", certificateDer);
  return {
    certificateDer,
    certificatePem,
    privateKey,
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    chainPem: certificatePem + ca.certificatePem,
  };
}
