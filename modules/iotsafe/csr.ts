/**
 * PKCS#10 certificate signing requests (RFC 2986) built on the device and signed by a P-256 key
 * in the SIM: the "touchless provisioning" path — the SIM generates the key pair, the device sends
 * the CSR, the CA returns a certificate that is written back into a SIM file.
 *
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE { version INTEGER 0, subject Name, subjectPKInfo, attributes [0] }
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { asciiToBytes, toBase64, utf8ToBytes } from "../bytes/bytes.js";
import {
  encodeBitString,
  encodeElement,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeSet,
  encodeSmallInteger,
  encodeUtf8String,
  TAG,
} from "../crypto/der.js";
import type { IotSafeClient } from "./client.js";
import { IotSafeArgumentError } from "./errors.js";
import type { ObjectRef } from "./objects.js";
import { checkUncompressedPoint } from "./public-key.js";

const OID = {
  EC_PUBLIC_KEY: "1.2.840.10045.2.1",
  PRIME256V1: "1.2.840.10045.3.1.7",
  ECDSA_WITH_SHA256: "1.2.840.10045.4.3.2",
  EXTENSION_REQUEST: "1.2.840.113549.1.9.14",
  SUBJECT_ALT_NAME: "2.5.29.17",
} as const;

/** Attribute types of a subject name, in the order written (RFC 5280 / X.520). */
const SUBJECT_FIELDS = [
  ["country", "2.5.4.6", "printable"],
  ["state", "2.5.4.8", "utf8"],
  ["locality", "2.5.4.7", "utf8"],
  ["organization", "2.5.4.10", "utf8"],
  ["organizationalUnit", "2.5.4.11", "utf8"],
  ["commonName", "2.5.4.3", "utf8"],
  ["serialNumber", "2.5.4.5", "printable"],
] as const;

export interface CsrSubject {
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
  state?: string;
  locality?: string;
  serialNumber?: string;
}

export interface CsrOptions {
  subject: CsrSubject;
  /** The P-256 public key, uncompressed point 04‖X‖Y. */
  publicKey: Uint8Array;
  /** subjectAltName dNSName entries, requested through the extensionRequest attribute. */
  dnsNames?: readonly string[];
  /** Signs the SHA-256 digest of the CertificationRequestInfo; resolves with a DER ECDSA signature. */
  signDigest: (digest: Uint8Array) => Promise<Uint8Array>;
}

function encodeName(subject: CsrSubject): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const [field, oid, type] of SUBJECT_FIELDS) {
    const value = subject[field];
    if (value === undefined) continue;
    if (value.length === 0 || value.length > 64) throw new IotSafeArgumentError(`subject ${field} must be 1..64 characters`);
    let encoded: Uint8Array;
    if (type === "printable") {
      if (!/^[A-Za-z0-9 '()+,\-./:=?]+$/.test(value)) throw new IotSafeArgumentError(`subject ${field} ${JSON.stringify(value)} is not a PrintableString`);
      if (field === "country" && !/^[A-Z]{2}$/.test(value)) throw new IotSafeArgumentError(`subject country must be two capital letters, got ${JSON.stringify(value)}`);
      encoded = encodeElement(TAG.PRINTABLE_STRING, asciiToBytes(value));
    } else {
      encoded = encodeUtf8String(utf8ToBytes(value));
    }
    rdns.push(encodeSet(encodeSequence(encodeOid(oid), encoded)));
  }
  if (rdns.length === 0) throw new IotSafeArgumentError("the CSR subject is empty");
  return encodeSequence(...rdns);
}

function encodeAttributes(dnsNames: readonly string[] | undefined): Uint8Array {
  if (!dnsNames || dnsNames.length === 0) return encodeElement(0xa0);
  const names = dnsNames.map((name) => {
    if (!/^[A-Za-z0-9*]([A-Za-z0-9\-.*]{0,252})$/.test(name)) throw new IotSafeArgumentError(`invalid DNS name ${JSON.stringify(name)}`);
    return encodeElement(0x82, asciiToBytes(name)); // [2] IMPLICIT IA5String dNSName
  });
  const subjectAltName = encodeSequence(encodeOid(OID.SUBJECT_ALT_NAME), encodeOctetString(encodeSequence(...names)));
  const extensionRequest = encodeSequence(encodeOid(OID.EXTENSION_REQUEST), encodeSet(encodeSequence(subjectAltName)));
  return encodeElement(0xa0, extensionRequest);
}

/** The DER CertificationRequestInfo (the signed part). */
export function encodeCertificationRequestInfo(options: Omit<CsrOptions, "signDigest">): Uint8Array {
  checkUncompressedPoint(options.publicKey, "CSR public key");
  if (options.publicKey.length !== 65) throw new IotSafeArgumentError(`CSR public key of ${options.publicKey.length} bytes is not a P-256 point`);
  const subjectPublicKeyInfo = encodeSequence(encodeSequence(encodeOid(OID.EC_PUBLIC_KEY), encodeOid(OID.PRIME256V1)), encodeBitString(options.publicKey));
  return encodeSequence(encodeSmallInteger(0), encodeName(options.subject), subjectPublicKeyInfo, encodeAttributes(options.dnsNames));
}

/** Builds and signs a PKCS#10 request; resolves with its DER. */
export async function buildCsr(options: CsrOptions): Promise<Uint8Array> {
  const info = encodeCertificationRequestInfo(options);
  const signature = await options.signDigest(sha256(info));
  return encodeSequence(info, encodeSequence(encodeOid(OID.ECDSA_WITH_SHA256)), encodeBitString(signature));
}

export interface SimCsrOptions {
  subject: CsrSubject;
  dnsNames?: readonly string[];
  /** The signing key container. */
  privateKey: ObjectRef;
  /** The public key: a point, or a public-key container to READ PUBLIC KEY from (default: the private key's ID). */
  publicKey?: Uint8Array | ObjectRef;
}

/** A CSR for a key pair held by the SIM, signed on the SIM. */
export async function createSimCsr(client: IotSafeClient, options: SimCsrOptions): Promise<Uint8Array> {
  const source = options.publicKey ?? options.privateKey;
  const publicKey = source instanceof Uint8Array ? source : await client.readPublicKey(source);
  const csrOptions: CsrOptions = {
    subject: options.subject,
    publicKey,
    signDigest: async (digest) => (await client.signDigest(options.privateKey, digest, { hash: "sha256" })).der,
  };
  if (options.dnsNames) csrOptions.dnsNames = options.dnsNames;
  return buildCsr(csrOptions);
}

/** PEM text of a DER CSR ("CERTIFICATE REQUEST"), 64-character lines. */
export function csrToPem(der: Uint8Array): string {
  const body = toBase64(der).replace(/.{64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE REQUEST-----\n${body}${body.endsWith("\n") ? "" : "\n"}-----END CERTIFICATE REQUEST-----\n`;
}
