/**
 * Certificate path building and validation (RFC 5280 §6, the parts a TLS client needs) against
 * configured trust anchors, plus server identity checks (RFC 6125: subjectAltName only, no CN
 * fallback) and optional pinning. Every failure is a CertificateError with a `reason` code and a
 * message naming the certificate; nothing is skipped silently.
 *
 * Not implemented (refused when marked critical, ignored otherwise): name constraints, policies,
 * revocation (CRL/OCSP).
 */
import { bytesEqual, toHex } from "../bytes/bytes.js";
import { CryptoError, type CryptoProvider } from "./provider.js";
import {
  CertificateError,
  certificateLabel,
  OID,
  parseCertificate,
  pemToCertificates,
  type Certificate,
  type CertificateErrorReason,
} from "./x509.js";

/** Extensions whose meaning this validator enforces (or that carry no constraint), so they may be critical. */
const UNDERSTOOD_CRITICAL = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extendedKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
]);

/** Input chains longer than this are refused (TLS servers send 2-4). */
export const MAX_CHAIN_CERTIFICATES = 10;
/** Candidate paths tried before giving up (bounds signature checks on hostile chains). */
const MAX_CANDIDATE_PATHS = 4;
/** Path-building steps before giving up. */
const MAX_BUILD_STEPS = 64;

function fail(reason: CertificateErrorReason, cert: Certificate | undefined, message: string): never {
  const label = cert ? certificateLabel(cert) : undefined;
  throw new CertificateError(reason, label !== undefined ? `certificate "${label}": ${message}` : message, label);
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

/** Trust anchors, from DER bytes or PEM text (a PEM text may hold several certificates). */
export class TrustStore {
  readonly anchors: Certificate[] = [];

  constructor(anchors: ReadonlyArray<Uint8Array | string | Certificate> = []) {
    for (const anchor of anchors) this.add(anchor);
  }

  add(anchor: Uint8Array | string | Certificate): void {
    if (typeof anchor === "string") {
      for (const der of pemToCertificates(anchor)) this.anchors.push(parseCertificate(der));
    } else if (anchor instanceof Uint8Array) {
      this.anchors.push(parseCertificate(anchor));
    } else {
      this.anchors.push(anchor);
    }
  }

  /** The anchor that is byte-for-byte this certificate, if any. */
  find(cert: Certificate): Certificate | undefined {
    return this.anchors.find((a) => bytesEqual(a.der, cert.der));
  }

  /** Anchors whose subject names `cert`'s issuer. */
  issuersOf(cert: Certificate): Certificate[] {
    return this.anchors.filter((a) => mayHaveIssued(a, cert));
  }
}

/** Name chaining (exact DER comparison) plus the key identifier hint when both sides carry one. */
function mayHaveIssued(issuer: Certificate, subject: Certificate): boolean {
  if (!bytesEqual(issuer.subject.der, subject.issuer.der)) return false;
  const aki = subject.authorityKeyIdentifier;
  const ski = issuer.subjectKeyIdentifier;
  return !(aki && ski && !bytesEqual(aki, ski));
}

export type ExtendedKeyPurpose = "serverAuth" | "clientAuth";

export interface PinSet {
  /** SHA-256 of the whole leaf certificate DER. */
  certificateSha256?: Uint8Array[];
  /** SHA-256 of the leaf's SubjectPublicKeyInfo DER (survives re-issuance with the same key). */
  spkiSha256?: Uint8Array[];
}

export interface VerifyOptions {
  provider: CryptoProvider;
  trustStore: TrustStore;
  /** Current time, epoch milliseconds (from a trustworthy clock: network time, RTC). */
  time: number;
  /**
   * The name the peer must prove: a DNS name or an IPv4/IPv6 literal (brackets allowed).
   * `null` skips the identity check — it must be asked for explicitly (e.g. client certificates).
   */
  hostname: string | null;
  /** Required extendedKeyUsage purpose where the extension is present. Default "serverAuth". */
  purpose?: ExtendedKeyPurpose;
  /** When given, the leaf must match at least one pin (in addition to chaining to an anchor). */
  pins?: PinSet;
}

export interface VerifiedPath {
  leaf: Certificate;
  /** Leaf first, trust anchor last (a single element when the leaf itself is an anchor). */
  path: Certificate[];
  anchor: Certificate;
}

/**
 * Validates a peer's certificate chain (DER, leaf first, as TLS sends it; extra or unordered
 * intermediates are tolerated) and returns the path used. Throws CertificateError otherwise.
 */
export function verifyCertificateChain(chain: ReadonlyArray<Uint8Array | Certificate>, options: VerifyOptions): VerifiedPath {
  if (typeof options.time !== "number" || !Number.isFinite(options.time)) {
    throw new RangeError("verifyCertificateChain: options.time must be a finite epoch-milliseconds number");
  }
  if (options.hostname === undefined) throw new TypeError("verifyCertificateChain: options.hostname is required (null to skip the name check)");
  if (chain.length === 0) throw new CertificateError("untrusted", "the peer sent no certificate");
  if (chain.length > MAX_CHAIN_CERTIFICATES) throw new CertificateError("path-too-long", `the peer sent ${chain.length} certificates (limit ${MAX_CHAIN_CERTIFICATES})`);
  const certs = chain.map((c, i) => {
    if (!(c instanceof Uint8Array)) return c;
    try {
      return parseCertificate(c);
    } catch (error) {
      if (error instanceof CertificateError) throw new CertificateError(error.reason, `certificate ${i} of the chain: ${error.message}`);
      throw error;
    }
  });
  const leaf = certs[0]!;
  const candidates = buildCandidatePaths(leaf, certs.slice(1), options.trustStore);
  if (candidates.paths.length === 0) {
    const stuck = candidates.deadEnd;
    fail("untrusted", stuck, `issuer "${stuck.issuer.text}" is not a configured trust anchor and no certificate in the chain links to one`);
  }
  let firstError: unknown;
  for (const path of candidates.paths) {
    try {
      validatePath(path, options);
      checkLeaf(leaf, options);
      return { leaf, path, anchor: path[path.length - 1]! };
    } catch (error) {
      if (!(error instanceof CertificateError)) throw error;
      firstError ??= error;
    }
  }
  throw firstError;
}

/** Depth-first search for paths leaf → … → anchor by name (signatures are checked in validatePath). */
function buildCandidatePaths(leaf: Certificate, pool: Certificate[], store: TrustStore): { paths: Certificate[][]; deadEnd: Certificate } {
  const paths: Certificate[][] = [];
  let deadEnd = leaf;
  let deepest = 0;
  let steps = 0;
  const direct = store.find(leaf);
  if (direct) return { paths: [[direct]], deadEnd };
  const extend = (path: Certificate[]) => {
    if (paths.length >= MAX_CANDIDATE_PATHS || ++steps > MAX_BUILD_STEPS) return;
    const current = path[path.length - 1]!;
    if (path.length > deepest) {
      deepest = path.length;
      deadEnd = current;
    }
    for (const anchor of store.issuersOf(current)) {
      if (paths.length < MAX_CANDIDATE_PATHS) paths.push([...path, anchor]);
    }
    if (path.length >= MAX_CHAIN_CERTIFICATES) return;
    for (const next of pool) {
      if (path.indexOf(next) >= 0 || path.some((p) => bytesEqual(p.der, next.der))) continue;
      if (store.find(next)) continue; // a copy of an anchor in the chain: the anchor branch above covers it
      if (mayHaveIssued(next, current)) extend([...path, next]);
    }
  };
  extend([leaf]);
  return { paths, deadEnd };
}

function isSelfIssued(cert: Certificate): boolean {
  return bytesEqual(cert.subject.der, cert.issuer.der);
}

/** Checks one candidate path from the anchor down to the leaf; throws the first problem found. */
function validatePath(path: Certificate[], options: VerifyOptions): void {
  const purpose = options.purpose ?? "serverAuth";
  const anchorIndex = path.length - 1;
  const anchor = path[anchorIndex]!;
  // A trust anchor is trusted by configuration (RFC 5280 §6.1.1 d): its validity and signature are
  // not checked, but when it issues certificates it must be allowed to.
  if (anchorIndex > 0) checkCa(anchor, countIntermediatesBelow(path, anchorIndex), purpose);
  for (let i = anchorIndex - 1; i >= 0; i--) {
    const cert = path[i]!;
    checkSignature(cert, path[i + 1]!, options.provider);
    checkValidity(cert, options.time);
    checkCriticalExtensions(cert);
    if (i > 0) checkCa(cert, countIntermediatesBelow(path, i), purpose);
  }
}

/** Non-self-issued intermediates strictly between the leaf and path[index] (what pathLenConstraint counts). */
function countIntermediatesBelow(path: Certificate[], index: number): number {
  let count = 0;
  for (let j = 1; j < index; j++) if (!isSelfIssued(path[j]!)) count++;
  return count;
}

function checkSignature(cert: Certificate, issuer: Certificate, provider: CryptoProvider): void {
  const algorithm = cert.signatureAlgorithm.algorithm;
  if (!algorithm) fail("unsupported-algorithm", cert, cert.signatureAlgorithm.unsupportedReason ?? `signature algorithm ${cert.signatureAlgorithm.name} is not supported`);
  const key = issuer.subjectPublicKeyInfo.key;
  if (!key) fail("unsupported-algorithm", cert, `issuer "${certificateLabel(issuer)}" has an unusable key: ${issuer.subjectPublicKeyInfo.unsupportedReason ?? "unknown algorithm"}`);
  if ((algorithm.kind === "ecdsa") !== (key.kind === "ec")) {
    fail("bad-signature", cert, `signed with ${cert.signatureAlgorithm.name} but issuer "${certificateLabel(issuer)}" has an ${key.kind.toUpperCase()} key`);
  }
  let valid: boolean;
  try {
    valid = provider.verify(algorithm, key, cert.tbs, cert.signature);
  } catch (error) {
    if (!(error instanceof CryptoError)) throw error;
    if (error.reason === "unsupported") fail("unsupported-algorithm", cert, error.message);
    fail("bad-key", cert, `issuer "${certificateLabel(issuer)}" key is unusable: ${error.message}`);
  }
  if (!valid) fail("bad-signature", cert, `signature (${cert.signatureAlgorithm.name}) does not verify with the key of "${certificateLabel(issuer)}"`);
}

function checkValidity(cert: Certificate, time: number): void {
  if (time < cert.notBefore) fail("not-yet-valid", cert, `not valid before ${isoDate(cert.notBefore)} (now ${isoDate(time)})`);
  if (time > cert.notAfter) fail("expired", cert, `expired at ${isoDate(cert.notAfter)} (now ${isoDate(time)})`);
}

function checkCriticalExtensions(cert: Certificate): void {
  for (const ext of cert.extensions) {
    if (ext.critical && !(ext.understood && UNDERSTOOD_CRITICAL.has(ext.oid))) {
      fail("unsupported-critical-extension", cert, `critical extension ${ext.oid} is not supported`);
    }
  }
}

function checkCa(cert: Certificate, intermediatesBelow: number, purpose: ExtendedKeyPurpose): void {
  // v1/v2 certificates cannot say they are CAs; only a configured v1 root (trusted as such) passes.
  const bc = cert.basicConstraints;
  if (!bc || !bc.ca) {
    if (!(cert.version < 3 && bc === undefined && cert.extensions.length === 0 && isSelfIssued(cert))) {
      fail("not-a-ca", cert, "issues certificates but is not a CA (basicConstraints cA is not set)");
    }
  }
  if (bc?.pathLength !== undefined && intermediatesBelow > bc.pathLength) {
    fail("path-too-long", cert, `pathLenConstraint ${bc.pathLength} allows fewer than the ${intermediatesBelow} intermediate CA certificates below it`);
  }
  if (cert.keyUsage && !cert.keyUsage.has("keyCertSign")) fail("bad-key-usage", cert, "is a CA whose keyUsage lacks keyCertSign");
  const eku = cert.extendedKeyUsage;
  if (eku && eku.indexOf(purposeOid(purpose)) < 0 && eku.indexOf(OID.ekuAny) < 0) {
    fail("bad-eku", cert, `extendedKeyUsage of this CA does not allow ${purpose}`);
  }
}

function purposeOid(purpose: ExtendedKeyPurpose): string {
  return purpose === "clientAuth" ? OID.ekuClientAuth : OID.ekuServerAuth;
}

function checkLeaf(leaf: Certificate, options: VerifyOptions): void {
  const purpose = options.purpose ?? "serverAuth";
  if (leaf.keyUsage && !leaf.keyUsage.has("digitalSignature")) fail("bad-key-usage", leaf, "keyUsage lacks digitalSignature");
  if (leaf.extendedKeyUsage && leaf.extendedKeyUsage.indexOf(purposeOid(purpose)) < 0) {
    fail("bad-eku", leaf, `extendedKeyUsage does not include ${purpose}`);
  }
  // The leaf's own validity and critical extensions are checked in validatePath unless the leaf is
  // itself a trust anchor; check them here as well so a directly trusted leaf is held to the same rules.
  checkValidity(leaf, options.time);
  checkCriticalExtensions(leaf);
  if (options.hostname !== null) {
    if (!matchesHostname(leaf, options.hostname)) {
      const san = leaf.subjectAltName;
      const names = san ? [...san.dnsNames, ...san.ipAddresses.map(formatIp)].join(", ") : "";
      fail("hostname-mismatch", leaf, `is not valid for "${options.hostname}" (subjectAltName: ${names || "none"})`);
    }
  }
  if (options.pins) checkPins(leaf, options.pins, options.provider);
}

function checkPins(leaf: Certificate, pins: PinSet, provider: CryptoProvider): void {
  const certPins = pins.certificateSha256 ?? [];
  const spkiPins = pins.spkiSha256 ?? [];
  if (certPins.length === 0 && spkiPins.length === 0) fail("pin-mismatch", leaf, "pinning is configured with an empty pin set");
  const certHash = provider.hash("sha256", leaf.der);
  const spkiHash = provider.hash("sha256", leaf.subjectPublicKeyInfo.der);
  if (certPins.some((p) => bytesEqual(p, certHash)) || spkiPins.some((p) => bytesEqual(p, spkiHash))) return;
  fail("pin-mismatch", leaf, `matches no configured pin (certificate SHA-256 ${toHex(certHash)}, SPKI SHA-256 ${toHex(spkiHash)})`);
}

// ---- identity (RFC 6125) ----

/** Whether `hostname` (DNS name or IP literal) is one of the leaf's subjectAltName entries. The CN is never used. */
export function matchesHostname(cert: Certificate, hostname: string): boolean {
  const san = cert.subjectAltName;
  if (!san) return false;
  const ip = parseIpAddress(hostname);
  if (ip) return san.ipAddresses.some((a) => bytesEqual(a, ip));
  if (/^[0-9.]+$/.test(hostname) || hostname.indexOf(":") >= 0 || hostname.indexOf("[") >= 0) return false; // a malformed IP literal
  const host = normalizeDnsName(hostname);
  if (host === undefined) return false;
  return san.dnsNames.some((pattern) => dnsNameMatches(pattern, host));
}

/** Lower-cased name without a trailing dot, or undefined when it is not a plausible DNS name. */
function normalizeDnsName(name: string): string | undefined {
  let n = name.toLowerCase();
  if (n.endsWith(".")) n = n.slice(0, -1);
  if (n.length === 0 || n.length > 253) return undefined;
  const labels = n.split(".");
  for (const label of labels) if (label.length === 0 || label.length > 63 || !/^[a-z0-9_*-]+$/.test(label)) return undefined;
  return n;
}

/** RFC 6125 §6.4.3 matching: exact, or a whole-label wildcard in the leftmost label only, never over two-label names. */
export function dnsNameMatches(pattern: string, normalizedHost: string): boolean {
  const p = normalizeDnsName(pattern);
  if (p === undefined || normalizedHost.indexOf("*") >= 0) return false;
  if (p.indexOf("*") < 0) return p === normalizedHost;
  const patternLabels = p.split(".");
  const hostLabels = normalizedHost.split(".");
  // Only "*" as the entire leftmost label; no partial ("f*o"), no other positions, at least three labels.
  if (patternLabels[0] !== "*" || patternLabels.length < 3) return false;
  for (let i = 1; i < patternLabels.length; i++) if (patternLabels[i]!.indexOf("*") >= 0) return false;
  if (hostLabels.length !== patternLabels.length) return false;
  for (let i = 1; i < patternLabels.length; i++) if (patternLabels[i] !== hostLabels[i]) return false;
  return hostLabels[0]!.length > 0;
}

/** 4 bytes for a dotted-quad IPv4 literal, 16 for an IPv6 literal (brackets allowed), else undefined. */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (text.indexOf(":") >= 0 || text.startsWith("[")) {
    const inner = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
    return parseIpv6(inner);
  }
  return parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    // No leading zeros: "010" is octal to some resolvers, so refuse the ambiguity.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const groups: number[] = [];
    const items = s.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.indexOf(".") >= 0) {
        const v4 = parseIpv4(item);
        if (!v4) return undefined;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        groups.push(parseInt(item, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 may only end the address.
  if (halves.length === 2 && halves[0]!.indexOf(".") >= 0) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":");
}
