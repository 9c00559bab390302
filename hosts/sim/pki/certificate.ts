/**
 * X.509 v3 certificate building for the development PKI (RFC 5280), on the project's DER writer
 * (modules/crypto/der.ts) with node:crypto for keys and signatures. Host-only code.
 */
import { createHash, createPublicKey, sign, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import {
  TAG,
  DerReader,
  decodeOne,
  encodeElement,
  encodeExplicit,
  encodeNull,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeSet,
  encodeSmallInteger,
  encodeTime,
  encodeUnsignedInteger,
  encodeUtf8String,
  encodeBitString,
  decodeBitStringBytes,
} from "../../../modules/crypto/der.js";
import { asciiToBytes, utf8ToBytes } from "../../../modules/bytes/bytes.js";

export class CertificateBuildError extends Error {
  override name = "CertificateBuildError";
}

export const OID = {
  commonName: "2.5.4.3",
  organizationName: "2.5.4.10",
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  sha256WithRsa: "1.2.840.113549.1.1.11",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3). */
export const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyAgreement: 4, keyCertSign: 5, cRLSign: 6 } as const;

/** A Name of RelativeDistinguishedNames with one UTF8String attribute each. */
export function encodeName(attributes: { cn: string; o?: string }): Uint8Array {
  const rdn = (oid: string, value: string) => encodeSet(encodeSequence(encodeOid(oid), encodeUtf8String(utf8ToBytes(value))));
  const parts: Uint8Array[] = [];
  if (attributes.o !== undefined) parts.push(rdn(OID.organizationName, attributes.o));
  parts.push(rdn(OID.commonName, attributes.cn));
  return encodeSequence(...parts);
}

/** SubjectPublicKeyInfo for an uncompressed P-256 point. */
export function p256SubjectPublicKeyInfo(point: Uint8Array): Uint8Array {
  if (point.length !== 65 || point[0] !== 0x04) throw new CertificateBuildError(`expected an uncompressed P-256 point, got ${point.length} bytes`);
  return encodeSequence(encodeSequence(encodeOid(OID.ecPublicKey), encodeOid(OID.prime256v1)), encodeBitString(point));
}

/** SPKI (DER) of any node:crypto key. */
export function subjectPublicKeyInfoOf(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const reader = new DerReader(decodeOne(spki, TAG.SEQUENCE), "SubjectPublicKeyInfo");
  reader.next(TAG.SEQUENCE, "algorithm");
  const bits = decodeBitStringBytes(reader.next(TAG.BIT_STRING, "subjectPublicKey").value);
  return new Uint8Array(createHash("sha1").update(bits).digest());
}

function namedBitString(bits: number[]): Uint8Array {
  const bytes = new Uint8Array(Math.floor(Math.max(...bits) / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  let last = bytes[bytes.length - 1]!;
  let unused = 0;
  while (unused < 7 && (last & 1) === 0) {
    last >>= 1;
    unused++;
  }
  return encodeElement(TAG.BIT_STRING, Uint8Array.of(unused), bytes);
}

const TRUE = encodeElement(TAG.BOOLEAN, Uint8Array.of(0xff));

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? encodeSequence(encodeOid(oid), TRUE, encodeOctetString(value)) : encodeSequence(encodeOid(oid), encodeOctetString(value));
}

export const extensions = {
  basicConstraints(ca: boolean, pathLength?: number): Uint8Array {
    const body = ca ? (pathLength === undefined ? [TRUE] : [TRUE, encodeSmallInteger(pathLength)]) : [];
    return extension(OID.basicConstraints, true, encodeSequence(...body));
  },
  keyUsage(bits: number[]): Uint8Array {
    return extension(OID.keyUsage, true, namedBitString(bits));
  },
  extendedKeyUsage(oids: string[]): Uint8Array {
    return extension(OID.extKeyUsage, false, encodeSequence(...oids.map(encodeOid)));
  },
  subjectKeyIdentifier(id: Uint8Array): Uint8Array {
    return extension(OID.subjectKeyIdentifier, false, encodeOctetString(id));
  },
  authorityKeyIdentifier(id: Uint8Array): Uint8Array {
    return extension(OID.authorityKeyIdentifier, false, encodeSequence(encodeElement(0x80, id)));
  },
  /** dNSName [2] and iPAddress [7] entries (IPv4 or IPv6 text). */
  subjectAltName(dns: string[], ips: string[]): Uint8Array {
    const names = [
      ...dns.map((name) => encodeElement(0x82, asciiToBytes(name))),
      ...ips.map((ip) => encodeElement(0x87, ipAddressBytes(ip))),
    ];
    if (names.length === 0) throw new CertificateBuildError("subjectAltName needs at least one name");
    return extension(OID.subjectAltName, false, encodeSequence(...names));
  },
};

/** The 4 or 16 bytes of an IP address in text form. */
export function ipAddressBytes(text: string): Uint8Array {
  const version = isIP(text);
  if (version === 4) return Uint8Array.from(text.split(".").map(Number));
  if (version !== 6) throw new CertificateBuildError(`not an IP address: ${JSON.stringify(text)}`);
  let address = text;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split(".").map(Number) as [number, number, number, number];
    address = address.slice(0, -v4[1]!.length) + ((a << 8) | b).toString(16) + ":" + ((c << 8) | d).toString(16);
  }
  const [head, tail] = address.split("::") as [string, string | undefined];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...(tail === undefined ? [] : Array<string>(missing).fill("0")), ...tailGroups];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/** The signature algorithm node:crypto uses for `key`, and its AlgorithmIdentifier. */
export function signatureAlgorithmFor(key: KeyObject): { hash: "sha256" | "sha384"; algorithmIdentifier: Uint8Array } {
  const type = key.asymmetricKeyType;
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return { hash: "sha256", algorithmIdentifier: encodeSequence(encodeOid(OID.ecdsaWithSha256)) };
    if (curve === "secp384r1") return { hash: "sha384", algorithmIdentifier: encodeSequence(encodeOid(OID.ecdsaWithSha384)) };
    throw new CertificateBuildError(`unsupported EC curve ${curve ?? "?"} for a signing key (P-256 or P-384)`);
  }
  if (type === "rsa") return { hash: "sha256", algorithmIdentifier: encodeSequence(encodeOid(OID.sha256WithRsa), encodeNull()) };
  throw new CertificateBuildError(`unsupported signing key type ${type ?? "?"}`);
}

export interface CertificateFields {
  /** Positive serial number, big-endian (at most 20 bytes). */
  serial: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: number;
  notAfter: number;
  subjectPublicKeyInfo: Uint8Array;
  extensions: Uint8Array[];
  /** The issuer's private key (node:crypto). */
  signer: KeyObject;
}

/** Builds and signs a v3 certificate; returns its DER. */
export function buildCertificate(fields: CertificateFields): Uint8Array {
  if (fields.serial.length === 0 || fields.serial.length > 20) throw new CertificateBuildError("serial must be 1..20 bytes");
  if (!(fields.notBefore < fields.notAfter)) throw new CertificateBuildError("notBefore must precede notAfter");
  const { hash, algorithmIdentifier } = signatureAlgorithmFor(fields.signer);
  const tbs = encodeSequence(
    encodeExplicit(0, encodeSmallInteger(2)),
    encodeUnsignedInteger(fields.serial),
    algorithmIdentifier,
    fields.issuer,
    encodeSequence(encodeTime(fields.notBefore), encodeTime(fields.notAfter)),
    fields.subject,
    fields.subjectPublicKeyInfo,
    ...(fields.extensions.length > 0 ? [encodeExplicit(3, encodeSequence(...fields.extensions))] : []),
  );
  const signature = new Uint8Array(sign(hash, tbs, fields.signer));
  return encodeSequence(tbs, algorithmIdentifier, encodeBitString(signature));
}

/** The parts of a certificate the PKI needs: subject Name (DER), SPKI (DER), subjectKeyIdentifier if present. */
export function certificateParts(der: Uint8Array): { subject: Uint8Array; subjectPublicKeyInfo: Uint8Array; subjectKeyIdentifier: Uint8Array | undefined } {
  const certificate = new DerReader(decodeOne(der, TAG.SEQUENCE), "Certificate");
  const tbs = new DerReader(certificate.next(TAG.SEQUENCE, "tbsCertificate"), "tbsCertificate");
  tbs.optional(0xa0);
  tbs.next(TAG.INTEGER, "serialNumber");
  tbs.next(TAG.SEQUENCE, "signature");
  tbs.next(TAG.SEQUENCE, "issuer");
  tbs.next(TAG.SEQUENCE, "validity");
  const subject = tbs.next(TAG.SEQUENCE, "subject").raw;
  const subjectPublicKeyInfo = tbs.next(TAG.SEQUENCE, "subjectPublicKeyInfo").raw;
  tbs.optional(0x81);
  tbs.optional(0x82);
  let subjectKeyIdentifier: Uint8Array | undefined;
  const extensionsWrapper = tbs.optional(0xa3);
  if (extensionsWrapper) {
    const list = new DerReader(new DerReader(extensionsWrapper, "extensions").next(TAG.SEQUENCE), "Extensions");
    while (!list.done) {
      const ext = new DerReader(list.next(TAG.SEQUENCE, "Extension"), "Extension");
      const oid = ext.next(TAG.OID, "extnID").raw;
      ext.optional(TAG.BOOLEAN);
      const value = ext.next(TAG.OCTET_STRING, "extnValue").value;
      if (bytesEqualLocal(oid, encodeOid(OID.subjectKeyIdentifier))) subjectKeyIdentifier = decodeOne(value, TAG.OCTET_STRING).value;
    }
  }
  return { subject, subjectPublicKeyInfo, subjectKeyIdentifier };
}

function bytesEqualLocal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
