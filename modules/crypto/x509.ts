/**
 * X.509 v3 certificate parsing (RFC 5280) on a memory budget: every byte field is a view into the
 * certificate's DER (no copies), strings are decoded once. Input is hostile: anything malformed
 * raises CertificateError("malformed") naming the field; nothing else escapes.
 * Also PEM → DER (base64 decoded by hand, bounded).
 */
import { bytesToAscii, bytesToUtf8, concatBytes, toHex } from "../bytes/bytes.js";
import {
  bitIsSet,
  DerError,
  DerReader,
  decodeBitString,
  decodeBitStringBytes,
  decodeBoolean,
  decodeOid,
  decodeOne,
  decodeSmallInteger,
  decodeTime,
  decodeUnsignedInteger,
  TAG,
  type DerElement,
} from "./der.js";
import type { EcCurve, HashName, PublicKey, SignatureAlgorithm } from "./provider.js";

/** Why a certificate or chain was refused. One class for parsing and path validation. */
export type CertificateErrorReason =
  | "malformed" // not a well-formed certificate (or PEM)
  | "untrusted" // no path to a configured trust anchor
  | "expired"
  | "not-yet-valid"
  | "hostname-mismatch"
  | "bad-signature"
  | "bad-key" // an unusable public key (RSA < 2048 bits, EC point off the curve)
  | "unsupported-algorithm" // a signature or key algorithm this firmware cannot verify
  | "not-a-ca"
  | "path-too-long" // basicConstraints pathLenConstraint exceeded or chain over the length limit
  | "bad-key-usage"
  | "bad-eku"
  | "unsupported-critical-extension"
  | "pin-mismatch";

export class CertificateError extends Error {
  override name = "CertificateError";
  constructor(
    readonly reason: CertificateErrorReason,
    message: string,
    /** A readable name of the certificate concerned (its CN, else its subject), when known. */
    readonly certificate?: string,
  ) {
    super(message);
  }
}

// ---- object identifiers ----

export const OID = {
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extendedKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  ekuServerAuth: "1.3.6.1.5.5.7.3.1",
  ekuClientAuth: "1.3.6.1.5.5.7.3.2",
  ekuAny: "2.5.29.37.0",
  ecPublicKey: "1.2.840.10045.2.1",
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsassaPss: "1.2.840.113549.1.1.10",
  mgf1: "1.2.840.113549.1.1.8",
} as const;

const CURVE_OIDS: Record<string, EcCurve> = { "1.2.840.10045.3.1.7": "secp256r1", "1.3.132.0.34": "secp384r1" };
const HASH_OIDS: Record<string, HashName> = { "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512" };
const HASH_SIZES: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };
const ECDSA_OIDS: Record<string, HashName> = { "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512" };
const RSA_PKCS1_OIDS: Record<string, HashName> = { "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512" };
/** Names of signature algorithms we recognise but refuse (so errors can say what was found). */
const REFUSED_SIGNATURE_OIDS: Record<string, string> = {
  "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
};
const ATTRIBUTE_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "2.5.4.9": "street",
  "2.5.4.17": "postalCode",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID",
  "1.2.840.113549.1.9.1": "emailAddress",
};

// ---- parsed forms ----

export interface NameAttribute {
  oid: string;
  /** Short name (CN, O, OU...) or the dotted OID when unknown. */
  type: string;
  value: string;
}

export interface DistinguishedName {
  /** The whole Name SEQUENCE as it appears in the certificate (compare names with these bytes). */
  der: Uint8Array;
  attributes: NameAttribute[];
  /** Readable form, most significant first: "C=FR, O=Example, CN=device-1". */
  text: string;
  /** The last (most specific) CN, if any. */
  commonName?: string;
}

export interface CertificateSignatureAlgorithm {
  oid: string;
  /** A readable name ("ecdsa-with-SHA256", "rsassa-pss"...). */
  name: string;
  /** The AlgorithmIdentifier bytes (must equal the TBS copy). */
  der: Uint8Array;
  /** What the provider should verify with; undefined when we cannot verify it (why: `unsupportedReason`). */
  algorithm?: SignatureAlgorithm;
  unsupportedReason?: string;
}

export interface SubjectPublicKeyInfo {
  /** The whole SubjectPublicKeyInfo SEQUENCE (what SPKI pins hash). */
  der: Uint8Array;
  algorithmOid: string;
  /** The key, when its algorithm is one we can use; undefined otherwise (why: `unsupportedReason`). */
  key?: PublicKey;
  unsupportedReason?: string;
}

export interface Extension {
  oid: string;
  critical: boolean;
  /** The extnValue OCTET STRING contents. */
  value: Uint8Array;
  /** Whether this parser understood it (its content was parsed into the fields below). */
  understood: boolean;
}

export interface BasicConstraints {
  ca: boolean;
  pathLength?: number;
}

/** keyUsage named bits (RFC 5280 §4.2.1.3). */
export const KEY_USAGE_BITS = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];

export interface SubjectAltName {
  /** dNSName entries as written (ASCII, case preserved). */
  dnsNames: string[];
  /** iPAddress entries: 4 bytes (IPv4) or 16 bytes (IPv6). */
  ipAddresses: Uint8Array[];
  /** Other GeneralName kinds present (rfc822Name, URI...), counted but not used for matching. */
  otherNames: number;
}

export interface Certificate {
  /** The whole certificate. */
  der: Uint8Array;
  /** The TBSCertificate element, header included: the signed bytes. */
  tbs: Uint8Array;
  /** 1, 2 or 3. */
  version: number;
  /** Serial number magnitude (sign octet removed). */
  serialNumber: Uint8Array;
  signatureAlgorithm: CertificateSignatureAlgorithm;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  /** Epoch milliseconds. */
  notBefore: number;
  notAfter: number;
  subjectPublicKeyInfo: SubjectPublicKeyInfo;
  extensions: Extension[];
  basicConstraints?: BasicConstraints;
  /** Set bits of keyUsage, when the extension is present. */
  keyUsage?: Set<KeyUsageName>;
  /** extendedKeyUsage purpose OIDs, when present. */
  extendedKeyUsage?: string[];
  subjectAltName?: SubjectAltName;
  subjectKeyIdentifier?: Uint8Array;
  authorityKeyIdentifier?: Uint8Array;
  /** The signature bits. */
  signature: Uint8Array;
}

/** A readable label for messages: the CN, else the subject text, else the serial. */
export function certificateLabel(cert: Certificate): string {
  return cert.subject.commonName ?? (cert.subject.text || `serial ${toHex(cert.serialNumber)}`);
}

// ---- parsing ----

/** Certificates larger than this are refused (a TLS certificate_list entry is at most 2^24 - 1 anyway). */
export const MAX_CERTIFICATE_BYTES = 16384;

/** Parses one DER certificate. Throws CertificateError("malformed") on anything wrong. */
export function parseCertificate(der: Uint8Array): Certificate {
  if (!(der instanceof Uint8Array)) throw new CertificateError("malformed", "certificate is not a byte array");
  if (der.length > MAX_CERTIFICATE_BYTES) throw new CertificateError("malformed", `certificate of ${der.length} bytes exceeds ${MAX_CERTIFICATE_BYTES}`);
  try {
    return parseCertificateUnchecked(der);
  } catch (error) {
    if (error instanceof CertificateError) throw error;
    if (error instanceof DerError) throw new CertificateError("malformed", `malformed certificate: ${error.message}`);
    throw error;
  }
}

function malformed(message: string): never {
  throw new CertificateError("malformed", `malformed certificate: ${message}`);
}

function parseCertificateUnchecked(der: Uint8Array): Certificate {
  const certificate = new DerReader(decodeOne(der, TAG.SEQUENCE), "Certificate");
  const tbsElement = certificate.next(TAG.SEQUENCE, "tbsCertificate");
  const outerAlgorithm = certificate.next(TAG.SEQUENCE, "signatureAlgorithm");
  const signature = decodeBitStringBytes(certificate.next(TAG.BIT_STRING, "signatureValue").value);
  certificate.end();

  const tbs = new DerReader(tbsElement, "TBSCertificate");
  let version = 1;
  const versionElement = tbs.optional(0xa0);
  if (versionElement) {
    version = decodeSmallInteger(decodeOne(versionElement.value, TAG.INTEGER).value) + 1;
    // An explicit v1 is not DER (DEFAULT values are omitted) but harmless; accept it like other verifiers.
    if (version > 3) malformed(`unknown certificate version ${version}`);
  }
  const serialElement = tbs.next(TAG.INTEGER, "serialNumber");
  // RFC 5280 §4.1.2.2: positive, at most 20 octets; be lenient about sign (some CAs issued negative serials) but bound the size.
  if (serialElement.value.length === 0 || serialElement.value.length > 21) malformed(`serial number of ${serialElement.value.length} bytes`);
  const serialNumber = serialElement.value[0] === 0 && serialElement.value.length > 1 ? serialElement.value.subarray(1) : serialElement.value;
  const innerAlgorithm = tbs.next(TAG.SEQUENCE, "signature");
  const issuer = parseName(tbs.next(TAG.SEQUENCE, "issuer"));
  const validity = new DerReader(tbs.next(TAG.SEQUENCE, "validity"), "Validity");
  const notBefore = decodeTime(validity.next(undefined, "notBefore"));
  const notAfter = decodeTime(validity.next(undefined, "notAfter"));
  validity.end();
  const subject = parseName(tbs.next(TAG.SEQUENCE, "subject"));
  const subjectPublicKeyInfo = parseSubjectPublicKeyInfo(tbs.next(TAG.SEQUENCE, "subjectPublicKeyInfo"));
  if (tbs.optional(0x81) && version < 2) malformed("issuerUniqueID in a v1 certificate");
  if (tbs.optional(0x82) && version < 2) malformed("subjectUniqueID in a v1 certificate");
  const cert: Certificate = {
    der,
    tbs: tbsElement.raw,
    version,
    serialNumber,
    signatureAlgorithm: parseSignatureAlgorithm(outerAlgorithm),
    issuer,
    subject,
    notBefore,
    notAfter,
    subjectPublicKeyInfo,
    extensions: [],
    signature,
  };
  const extensionsElement = tbs.optional(0xa3);
  tbs.end();
  if (!bytesEqualView(innerAlgorithm.raw, outerAlgorithm.raw)) malformed("signatureAlgorithm differs from the TBSCertificate signature field");
  if (extensionsElement) {
    if (version !== 3) malformed(`extensions in a v${version} certificate`);
    parseExtensions(decodeOne(extensionsElement.value, TAG.SEQUENCE), cert);
  }
  return cert;
}

function bytesEqualView(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** AlgorithmIdentifier → (oid, parameters element or undefined). */
function readAlgorithmIdentifier(element: DerElement, what: string): { oid: string; parameters?: DerElement } {
  const reader = new DerReader(element, what);
  const oid = decodeOid(reader.next(TAG.OID, "algorithm").value);
  const parameters = reader.done ? undefined : reader.next();
  reader.end();
  return parameters ? { oid, parameters } : { oid };
}

function isNull(element: DerElement | undefined): boolean {
  return element !== undefined && element.tag === TAG.NULL && element.value.length === 0;
}

export function parseSignatureAlgorithm(element: DerElement): CertificateSignatureAlgorithm {
  const { oid, parameters } = readAlgorithmIdentifier(element, "AlgorithmIdentifier");
  const der = element.raw;
  const ecdsaHash = ECDSA_OIDS[oid];
  if (ecdsaHash) {
    // RFC 5758 §3.2: the parameters field MUST be absent.
    if (parameters) malformed(`ecdsa-with-${ecdsaHash.toUpperCase()} with parameters`);
    return { oid, der, name: `ecdsa-with-${ecdsaHash.toUpperCase()}`, algorithm: { kind: "ecdsa", hash: ecdsaHash } };
  }
  const rsaHash = RSA_PKCS1_OIDS[oid];
  if (rsaHash) {
    // RFC 4055 §5: parameters MUST be NULL.
    if (!isNull(parameters)) malformed(`${rsaHash}WithRSAEncryption parameters must be NULL`);
    return { oid, der, name: `${rsaHash}WithRSAEncryption`, algorithm: { kind: "rsa-pkcs1", hash: rsaHash } };
  }
  if (oid === OID.rsassaPss) {
    if (!parameters || parameters.tag !== TAG.SEQUENCE) malformed("RSASSA-PSS without parameters");
    const pss = parsePssParameters(parameters);
    return "unsupported" in pss
      ? { oid, der, name: "rsassa-pss", unsupportedReason: pss.unsupported }
      : { oid, der, name: `rsassa-pss-${pss.hash}`, algorithm: { kind: "rsa-pss", hash: pss.hash } };
  }
  const refused = REFUSED_SIGNATURE_OIDS[oid];
  return { oid, der, name: refused ?? oid, unsupportedReason: `signature algorithm ${refused ?? oid} is not supported` };
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1). Returns the hash when it is one we verify (MGF1 with the same
 * hash, salt = hash length, trailer 1), else a string saying why not. Defaults are SHA-1 → unsupported.
 */
function parsePssParameters(element: DerElement): { hash: HashName } | { unsupported: string } {
  const reader = new DerReader(element, "RSASSA-PSS-params");
  const hashElement = reader.optional(0xa0);
  const mgfElement = reader.optional(0xa1);
  const saltElement = reader.optional(0xa2);
  const trailerElement = reader.optional(0xa3);
  reader.end();
  const hashOf = (e: DerElement, what: string): HashName | undefined => {
    const { oid, parameters } = readAlgorithmIdentifier(decodeOne(e.value, TAG.SEQUENCE), what);
    if (parameters && !isNull(parameters)) malformed(`${what} parameters`);
    return HASH_OIDS[oid];
  };
  if (!hashElement) return { unsupported: "RSASSA-PSS with the default SHA-1 hash is not supported" };
  const hash = hashOf(hashElement, "PSS hashAlgorithm");
  if (!hash) return { unsupported: "RSASSA-PSS hash algorithm is not supported" };
  if (!mgfElement) return { unsupported: "RSASSA-PSS with the default MGF1-SHA-1 is not supported" };
  const mgf = readAlgorithmIdentifier(decodeOne(mgfElement.value, TAG.SEQUENCE), "PSS maskGenAlgorithm");
  if (mgf.oid !== OID.mgf1 || !mgf.parameters || mgf.parameters.tag !== TAG.SEQUENCE) return { unsupported: "RSASSA-PSS mask generation other than MGF1" };
  const mgfHash = HASH_OIDS[readAlgorithmIdentifier(mgf.parameters, "MGF1 hash").oid];
  if (mgfHash !== hash) return { unsupported: "RSASSA-PSS with an MGF1 hash different from the message hash" };
  const salt = saltElement ? decodeSmallInteger(decodeOne(saltElement.value, TAG.INTEGER).value) : 20;
  if (salt !== HASH_SIZES[hash]) return { unsupported: `RSASSA-PSS salt length ${salt} (only the hash length is supported)` };
  if (trailerElement && decodeSmallInteger(decodeOne(trailerElement.value, TAG.INTEGER).value) !== 1) malformed("RSASSA-PSS trailerField must be 1");
  return { hash };
}

/** Parses a SubjectPublicKeyInfo element (exported for raw SPKI input such as Wycheproof keys). */
export function parseSubjectPublicKeyInfo(element: DerElement): SubjectPublicKeyInfo {
  const reader = new DerReader(element, "SubjectPublicKeyInfo");
  const { oid, parameters } = readAlgorithmIdentifier(reader.next(TAG.SEQUENCE, "algorithm"), "SPKI algorithm");
  const keyBits = decodeBitStringBytes(reader.next(TAG.BIT_STRING, "subjectPublicKey").value);
  reader.end();
  const der = element.raw;
  if (oid === OID.ecPublicKey) {
    // RFC 5480: ECParameters must be a namedCurve OID (implicit/specified curves are forbidden).
    if (!parameters || parameters.tag !== TAG.OID) {
      return { der, algorithmOid: oid, unsupportedReason: "EC public key without a named curve" };
    }
    const curveOid = decodeOid(parameters.value);
    const curve = CURVE_OIDS[curveOid];
    if (!curve) return { der, algorithmOid: oid, unsupportedReason: `EC curve ${curveOid} is not supported` };
    const size = curve === "secp256r1" ? 32 : 48;
    const first = keyBits[0];
    const ok = (first === 0x04 && keyBits.length === 1 + 2 * size) || ((first === 0x02 || first === 0x03) && keyBits.length === 1 + size);
    if (!ok) malformed(`${curve} public key of ${keyBits.length} bytes`);
    return { der, algorithmOid: oid, key: { kind: "ec", curve, point: keyBits } };
  }
  if (oid === OID.rsaEncryption || oid === OID.rsassaPss) {
    if (oid === OID.rsaEncryption && !isNull(parameters)) malformed("rsaEncryption parameters must be NULL");
    const rsa = new DerReader(decodeOne(keyBits, TAG.SEQUENCE), "RSAPublicKey");
    const modulus = decodeUnsignedInteger(rsa.next(TAG.INTEGER, "modulus").value);
    const exponent = decodeUnsignedInteger(rsa.next(TAG.INTEGER, "publicExponent").value);
    rsa.end();
    return { der, algorithmOid: oid, key: { kind: "rsa", modulus, exponent } };
  }
  const name = REFUSED_SIGNATURE_OIDS[oid];
  return { der, algorithmOid: oid, unsupportedReason: `public key algorithm ${name ?? oid} is not supported` };
}

/** Decodes the string types RFC 5280 allows in names (and a few legacy ones). */
function decodeDirectoryString(element: DerElement): string {
  const v = element.value;
  switch (element.tag) {
    case TAG.UTF8_STRING:
      return bytesToUtf8(v);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case 0x12: // NumericString
    case 0x14: // TeletexString (treated as Latin-1, as most software does)
    case 0x1a: // VisibleString
      return bytesToAscii(v);
    case 0x1e: {
      // BMPString: UTF-16BE
      if (v.length % 2 !== 0) malformed("BMPString of odd length");
      let out = "";
      for (let i = 0; i < v.length; i += 2) out += String.fromCharCode((v[i]! << 8) | v[i + 1]!);
      return out;
    }
    case 0x1c: {
      // UniversalString: UTF-32BE
      if (v.length % 4 !== 0) malformed("UniversalString length not a multiple of 4");
      let out = "";
      for (let i = 0; i < v.length; i += 4) {
        const cp = ((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0;
        out += cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : "\ufffd";
      }
      return out;
    }
    default:
      return `#${toHex(element.raw)}`;
  }
}

/** RFC 4514-style escaping of an attribute value for the readable form. */
function escapeNameValue(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) out += `\\${(code < 16 ? "0" : "") + code.toString(16)}`;
    else if (',+"\\<>;='.indexOf(c) >= 0 || ((c === " " || c === "#") && i === 0) || (c === " " && i === value.length - 1)) out += `\\${c}`;
    else out += c;
  }
  return out;
}

/** Bounds on names so hostile input cannot make a huge readable string. */
const MAX_NAME_ATTRIBUTES = 64;

export function parseName(element: DerElement): DistinguishedName {
  if (element.tag !== TAG.SEQUENCE) malformed("Name is not a SEQUENCE");
  const attributes: NameAttribute[] = [];
  const rdnTexts: string[] = [];
  for (const rdn of new DerReaderList(element, "Name")) {
    if (rdn.tag !== TAG.SET) malformed("RelativeDistinguishedName is not a SET");
    const parts: string[] = [];
    for (const atv of new DerReaderList(rdn, "RelativeDistinguishedName")) {
      const reader = new DerReader(atv, "AttributeTypeAndValue");
      const oid = decodeOid(reader.next(TAG.OID, "type").value);
      const value = decodeDirectoryString(reader.next(undefined, "value"));
      reader.end();
      if (attributes.length >= MAX_NAME_ATTRIBUTES) malformed(`more than ${MAX_NAME_ATTRIBUTES} name attributes`);
      const type = ATTRIBUTE_NAMES[oid] ?? oid;
      attributes.push({ oid, type, value });
      parts.push(`${type}=${escapeNameValue(value)}`);
    }
    if (parts.length === 0) malformed("empty RelativeDistinguishedName");
    rdnTexts.push(parts.join("+"));
  }
  let commonName: string | undefined;
  for (const a of attributes) if (a.oid === OID.commonName) commonName = a.value;
  const name: DistinguishedName = { der: element.raw, attributes, text: rdnTexts.join(", ") };
  if (commonName !== undefined) name.commonName = commonName;
  return name;
}

/** Iterates the children of a constructed element. */
class DerReaderList implements Iterable<DerElement> {
  #reader: DerReader;
  constructor(parent: DerElement, what: string) {
    this.#reader = new DerReader(parent, what);
  }
  *[Symbol.iterator](): Iterator<DerElement> {
    while (!this.#reader.done) yield this.#reader.next();
  }
}

function parseExtensions(sequence: DerElement, cert: Certificate): void {
  const seen = new Set<string>();
  for (const item of new DerReaderList(sequence, "Extensions")) {
    const reader = new DerReader(expectSequence(item, "Extension"), "Extension");
    const oid = decodeOid(reader.next(TAG.OID, "extnID").value);
    const criticalElement = reader.optional(TAG.BOOLEAN);
    const critical = criticalElement ? decodeBoolean(criticalElement.value) : false;
    const value = reader.next(TAG.OCTET_STRING, "extnValue").value;
    reader.end();
    if (seen.has(oid)) malformed(`extension ${oid} appears twice`);
    seen.add(oid);
    const understood = parseKnownExtension(oid, value, cert);
    cert.extensions.push({ oid, critical, value, understood });
  }
  if (cert.extensions.length === 0) malformed("empty extensions");
}

function expectSequence(element: DerElement, what: string): DerElement {
  if (element.tag !== TAG.SEQUENCE) malformed(`${what} is not a SEQUENCE`);
  return element;
}

function parseKnownExtension(oid: string, value: Uint8Array, cert: Certificate): boolean {
  switch (oid) {
    case OID.basicConstraints: {
      const reader = new DerReader(decodeOne(value, TAG.SEQUENCE), "BasicConstraints");
      const caElement = reader.optional(TAG.BOOLEAN);
      const pathElement = reader.optional(TAG.INTEGER);
      reader.end();
      const bc: BasicConstraints = { ca: caElement ? decodeBoolean(caElement.value) : false };
      if (pathElement) bc.pathLength = decodeSmallInteger(pathElement.value);
      cert.basicConstraints = bc;
      return true;
    }
    case OID.keyUsage: {
      const { bytes } = decodeBitString(decodeOne(value, TAG.BIT_STRING).value);
      const set = new Set<KeyUsageName>();
      KEY_USAGE_BITS.forEach((name, i) => {
        if (bitIsSet(bytes, i)) set.add(name);
      });
      cert.keyUsage = set;
      return true;
    }
    case OID.extendedKeyUsage: {
      const purposes: string[] = [];
      for (const p of new DerReaderList(decodeOne(value, TAG.SEQUENCE), "ExtKeyUsageSyntax")) {
        if (p.tag !== TAG.OID) malformed("extendedKeyUsage entry is not an OID");
        purposes.push(decodeOid(p.value));
      }
      if (purposes.length === 0) malformed("empty extendedKeyUsage");
      cert.extendedKeyUsage = purposes;
      return true;
    }
    case OID.subjectAltName: {
      const san: SubjectAltName = { dnsNames: [], ipAddresses: [], otherNames: 0 };
      for (const name of new DerReaderList(decodeOne(value, TAG.SEQUENCE), "GeneralNames")) {
        if (name.tag === 0x82) {
          // dNSName: IA5String, implicitly tagged.
          for (let i = 0; i < name.value.length; i++) if (name.value[i]! > 0x7e || name.value[i]! < 0x20) malformed("dNSName with a non-printable character");
          san.dnsNames.push(bytesToAscii(name.value));
        } else if (name.tag === 0x87) {
          if (name.value.length !== 4 && name.value.length !== 16) malformed(`iPAddress of ${name.value.length} bytes`);
          san.ipAddresses.push(name.value);
        } else {
          san.otherNames++;
        }
      }
      if (san.dnsNames.length + san.ipAddresses.length + san.otherNames === 0) malformed("empty subjectAltName");
      cert.subjectAltName = san;
      return true;
    }
    case OID.subjectKeyIdentifier:
      cert.subjectKeyIdentifier = decodeOne(value, TAG.OCTET_STRING).value;
      return true;
    case OID.authorityKeyIdentifier: {
      const reader = new DerReader(decodeOne(value, TAG.SEQUENCE), "AuthorityKeyIdentifier");
      const keyId = reader.optional(0x80);
      reader.optional(0xa1); // authorityCertIssuer (not used)
      reader.optional(0x82); // authorityCertSerialNumber (not used)
      reader.end();
      if (keyId) cert.authorityKeyIdentifier = keyId.value;
      return true;
    }
    default:
      return false;
  }
}

// ---- PEM ----

/** PEM input larger than this is refused (a bundle of ~40 CA certificates). */
export const MAX_PEM_CHARS = 262144;

function base64Value(code: number): number {
  if (code >= 65 && code <= 90) return code - 65;
  if (code >= 97 && code <= 122) return code - 71;
  if (code >= 48 && code <= 57) return code + 4;
  if (code === 43) return 62;
  if (code === 47) return 63;
  return -1;
}

/** Strict base64 (RFC 4648 §4) ignoring whitespace; throws CertificateError("malformed") on anything else. */
export function decodeBase64(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let length = 0;
  let accumulator = 0;
  let bits = 0;
  let symbols = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 32 || code === 9 || code === 10 || code === 13) continue;
    if (code === 61) {
      padding++;
      if (padding > 2) throw new CertificateError("malformed", "base64 with more than two '=' characters");
      continue;
    }
    if (padding > 0) throw new CertificateError("malformed", "base64 data after '=' padding");
    const v = base64Value(code);
    if (v < 0) throw new CertificateError("malformed", `invalid base64 character at offset ${i}`);
    accumulator = ((accumulator << 6) | v) & 0xffffff;
    bits += 6;
    symbols++;
    if (bits >= 8) {
      bits -= 8;
      out[length++] = (accumulator >> bits) & 0xff;
    }
  }
  const remainder = symbols % 4;
  if (remainder === 1) throw new CertificateError("malformed", "base64 length is not valid");
  if (padding > 0 && (remainder + padding) % 4 !== 0) throw new CertificateError("malformed", "base64 padding does not match the length");
  // Canonical encoding: the bits left over after the last whole byte must be zero.
  if (bits > 0 && (accumulator & ((1 << bits) - 1)) !== 0) throw new CertificateError("malformed", "base64 has non-zero trailing bits");
  return out.slice(0, length);
}

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/** All PEM blocks in `text` (text outside blocks is ignored, as in CA bundles). */
export function decodePem(text: string): PemBlock[] {
  if (text.length > MAX_PEM_CHARS) throw new CertificateError("malformed", `PEM input of ${text.length} characters exceeds ${MAX_PEM_CHARS}`);
  const blocks: PemBlock[] = [];
  let position = 0;
  for (;;) {
    const begin = text.indexOf("-----BEGIN ", position);
    if (begin < 0) break;
    const labelEnd = text.indexOf("-----", begin + 11);
    if (labelEnd < 0) throw new CertificateError("malformed", "PEM BEGIN line is not terminated");
    const label = text.slice(begin + 11, labelEnd);
    if (!/^[A-Z0-9 ]{1,64}$/.test(label)) throw new CertificateError("malformed", "PEM label is not valid");
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, labelEnd + 5);
    if (end < 0) throw new CertificateError("malformed", `PEM block "${label}" has no END line`);
    const body = text.slice(labelEnd + 5, end);
    if (body.indexOf(":") >= 0) throw new CertificateError("malformed", `PEM block "${label}" has headers (encrypted PEM is not supported)`);
    blocks.push({ label, der: decodeBase64(body) });
    position = end + endMarker.length;
  }
  return blocks;
}

/** The DER certificates of a PEM text (CERTIFICATE blocks only). */
export function pemToCertificates(text: string): Uint8Array[] {
  const ders = decodePem(text)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => b.der);
  if (ders.length === 0) throw new CertificateError("malformed", "no CERTIFICATE block in the PEM text");
  return ders;
}

/** PEM text of a DER certificate (for logs and export). */
export function certificateToPem(der: Uint8Array): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let b64 = "";
  for (let i = 0; i < der.length; i += 3) {
    const chunk = concatBytes(der.subarray(i, i + 3), new Uint8Array(3)).subarray(0, 3);
    const n = (chunk[0]! << 16) | (chunk[1]! << 8) | chunk[2]!;
    const count = Math.min(3, der.length - i);
    for (let j = 0; j < 4; j++) b64 += j <= count ? alphabet[(n >> (18 - 6 * j)) & 63] : "=";
  }
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}
