/**
 * TLS 1.3 handshake message codecs (RFC 8446 §4): building what the client sends, parsing what
 * the server sends. Parsing here is purely syntactic (lengths, ranges, exact consumption); the
 * rules about which message or extension is allowed when live in the handshake state machine.
 */
import { asciiToBytes, bytesToAscii, concatBytes } from "../bytes/bytes.js";
import { TlsReader, u16, u16Vector, u24, u32, u8, vector } from "./codec.js";
import { ExtensionType, HandshakeType, TLS12_VERSION, TLS13_VERSION, extensionName } from "./constants.js";
import { TlsDecodeError, TlsIllegalParameterError } from "./errors.js";

export interface Extension {
  readonly type: number;
  readonly data: Uint8Array;
}

export interface HandshakeMessage {
  readonly type: number;
  /** The body, without the 4-byte header. */
  readonly body: Uint8Array;
  /** Header and body: exactly what enters the transcript. */
  readonly raw: Uint8Array;
}

/** A handshake message: type, 24-bit length, body. */
export function encodeHandshake(type: number, body: Uint8Array): Uint8Array {
  return concatBytes(u8(type), u24(body.length), body);
}

function encodeExtension(type: number, data: Uint8Array): Uint8Array {
  return concatBytes(u16(type), vector(2, data));
}

/**
 * Reads an extensions block (`<min..2^16-1>`). Duplicates are refused (RFC 8446 §4.2: "There MUST
 * NOT be more than one extension of the same type").
 */
export function parseExtensions(reader: TlsReader, what: string, min = 0): Extension[] {
  const block = reader.sub(2, `${what} extensions`, min);
  const out: Extension[] = [];
  while (!block.done) {
    const type = block.u16("extension type");
    const data = block.vector(2, `${extensionName(type)} data`);
    if (out.some((e) => e.type === type)) throw new TlsDecodeError(`${what}: duplicate ${extensionName(type)} extension`);
    out.push({ type, data });
  }
  return out;
}

export function findExtension(extensions: readonly Extension[], type: number): Extension | undefined {
  return extensions.find((e) => e.type === type);
}

// ---- ClientHello ----

export interface KeyShareEntry {
  readonly group: number;
  readonly keyExchange: Uint8Array;
}

export interface ClientHelloParams {
  random: Uint8Array;
  /** 32 bytes in middlebox compatibility mode (RFC 8446 §D.4), else empty. */
  sessionId: Uint8Array;
  cipherSuites: readonly number[];
  /** A DNS host name (sent as server_name); omitted for IP literals. */
  serverName?: string;
  groups: readonly number[];
  keyShares: readonly KeyShareEntry[];
  signatureAlgorithms: readonly number[];
  signatureAlgorithmsCert?: readonly number[];
  alpn?: readonly string[];
  /** RFC 8449 limit on the TLSInnerPlaintext the server may send us. */
  recordSizeLimit?: number;
  /** RFC 6066 max_fragment_length code (1..4 = 2^9..2^12). */
  maxFragmentLength?: number;
  /** Echo of a HelloRetryRequest cookie. */
  cookie?: Uint8Array;
  /** psk_key_exchange_modes; [1] (psk_dhe_ke) lets the server issue tickets we can use later. */
  pskModes?: readonly number[];
  /**
   * One resumption PSK offered (pre_shared_key, always the last extension). The binder is encoded as
   * zeros of `binderLength` bytes: the caller computes it over the message up to the binders
   * (pskBindersLength) and writes it into the last `binderLength` bytes.
   */
  psk?: { identity: Uint8Array; obfuscatedTicketAge: number; binderLength: number };
}

/** Bytes at the end of a ClientHello taken by the binders list of one PSK (RFC 8446 §4.2.11.2). */
export function pskBindersLength(binderLength: number): number {
  return 2 + 1 + binderLength;
}

export function encodeServerNameExtension(host: string): Uint8Array {
  const name = asciiToBytes(host);
  return vector(2, u8(0), vector(2, name));
}

export function encodeClientHello(p: ClientHelloParams): Uint8Array {
  const extensions: Uint8Array[] = [];
  if (p.serverName !== undefined) extensions.push(encodeExtension(ExtensionType.server_name, encodeServerNameExtension(p.serverName)));
  if (p.maxFragmentLength !== undefined) extensions.push(encodeExtension(ExtensionType.max_fragment_length, u8(p.maxFragmentLength)));
  extensions.push(encodeExtension(ExtensionType.supported_groups, u16Vector(2, p.groups)));
  extensions.push(encodeExtension(ExtensionType.signature_algorithms, u16Vector(2, p.signatureAlgorithms)));
  if (p.signatureAlgorithmsCert) extensions.push(encodeExtension(ExtensionType.signature_algorithms_cert, u16Vector(2, p.signatureAlgorithmsCert)));
  if (p.alpn && p.alpn.length > 0) {
    extensions.push(encodeExtension(ExtensionType.application_layer_protocol_negotiation, vector(2, ...p.alpn.map((name) => vector(1, asciiToBytes(name))))));
  }
  if (p.recordSizeLimit !== undefined) extensions.push(encodeExtension(ExtensionType.record_size_limit, u16(p.recordSizeLimit)));
  extensions.push(encodeExtension(ExtensionType.supported_versions, u16Vector(1, [TLS13_VERSION])));
  if (p.cookie) extensions.push(encodeExtension(ExtensionType.cookie, vector(2, p.cookie)));
  if (p.pskModes && p.pskModes.length > 0) extensions.push(encodeExtension(ExtensionType.psk_key_exchange_modes, vector(1, Uint8Array.from(p.pskModes))));
  extensions.push(
    encodeExtension(ExtensionType.key_share, vector(2, ...p.keyShares.map((s) => concatBytes(u16(s.group), vector(2, s.keyExchange))))),
  );
  if (p.psk) {
    const identity = concatBytes(vector(2, p.psk.identity), u32(p.psk.obfuscatedTicketAge));
    const binders = vector(2, vector(1, new Uint8Array(p.psk.binderLength)));
    extensions.push(encodeExtension(ExtensionType.pre_shared_key, concatBytes(vector(2, identity), binders)));
  }
  const body = concatBytes(
    u16(TLS12_VERSION),
    p.random,
    vector(1, p.sessionId),
    u16Vector(2, p.cipherSuites),
    vector(1, u8(0)), // legacy_compression_methods: null only
    vector(2, ...extensions),
  );
  return encodeHandshake(HandshakeType.client_hello, body);
}

// ---- ServerHello / HelloRetryRequest ----

export interface ServerHello {
  readonly legacyVersion: number;
  readonly random: Uint8Array;
  readonly sessionIdEcho: Uint8Array;
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  readonly extensions: Extension[];
}

export function parseServerHello(body: Uint8Array): ServerHello {
  const r = new TlsReader(body, "ServerHello");
  const legacyVersion = r.u16("legacy_version");
  const random = r.bytes(32, "random");
  const sessionIdEcho = r.vector(1, "legacy_session_id_echo", 0, 32);
  const cipherSuite = r.u16("cipher_suite");
  const compressionMethod = r.u8("legacy_compression_method");
  // A TLS 1.2 or older server may omit the extensions block entirely; we still need to see its
  // random (downgrade sentinel) and version, so absence is not a decode error here.
  const extensions = r.done ? [] : parseExtensions(r, "ServerHello");
  r.end();
  return { legacyVersion, random, sessionIdEcho, cipherSuite, compressionMethod, extensions };
}

/** pre_shared_key in a ServerHello: the index of the PSK identity the server selected. */
export function parseSelectedIdentity(data: Uint8Array): number {
  const r = new TlsReader(data, "pre_shared_key extension");
  const selected = r.u16("selected_identity");
  r.end();
  return selected;
}

/** supported_versions in a ServerHello: exactly one selected version. */
export function parseSelectedVersion(data: Uint8Array): number {
  const r = new TlsReader(data, "supported_versions extension");
  const version = r.u16("selected_version");
  r.end();
  return version;
}

/** key_share in a ServerHello: one KeyShareEntry. */
export function parseServerKeyShare(data: Uint8Array): KeyShareEntry {
  const r = new TlsReader(data, "key_share extension");
  const group = r.u16("group");
  const keyExchange = r.vector(2, "key_exchange", 1);
  r.end();
  return { group, keyExchange };
}

/** key_share in a HelloRetryRequest: the selected group only. */
export function parseSelectedGroup(data: Uint8Array): number {
  const r = new TlsReader(data, "key_share extension (HelloRetryRequest)");
  const group = r.u16("selected_group");
  r.end();
  return group;
}

export function parseCookie(data: Uint8Array): Uint8Array {
  const r = new TlsReader(data, "cookie extension");
  const cookie = r.vector(2, "cookie", 1);
  r.end();
  return cookie;
}

// ---- EncryptedExtensions ----

export function parseEncryptedExtensions(body: Uint8Array): Extension[] {
  const r = new TlsReader(body, "EncryptedExtensions");
  const extensions = parseExtensions(r, "EncryptedExtensions");
  r.end();
  return extensions;
}

/** ALPN in EncryptedExtensions: a list with exactly one protocol name (RFC 7301 §3.1). */
export function parseSelectedAlpn(data: Uint8Array): string {
  const r = new TlsReader(data, "application_layer_protocol_negotiation extension");
  const list = r.sub(2, "protocol_name_list", 2);
  const name = list.vector(1, "protocol name", 1);
  list.end();
  r.end();
  return bytesToAscii(name);
}

export function parseRecordSizeLimit(data: Uint8Array): number {
  const r = new TlsReader(data, "record_size_limit extension");
  const limit = r.u16("RecordSizeLimit");
  r.end();
  return limit;
}

export function parseMaxFragmentLength(data: Uint8Array): number {
  const r = new TlsReader(data, "max_fragment_length extension");
  const code = r.u8("MaxFragmentLength");
  r.end();
  return code;
}

/** server_name in EncryptedExtensions must be empty (RFC 6066 §3). */
export function checkEmptyExtension(ext: Extension, where: string): void {
  if (ext.data.length !== 0) throw new TlsDecodeError(`${where}: ${extensionName(ext.type)} extension must be empty, has ${ext.data.length} bytes`);
}

// ---- CertificateRequest ----

export interface CertificateRequest {
  readonly context: Uint8Array;
  readonly extensions: Extension[];
}

export function parseCertificateRequest(body: Uint8Array): CertificateRequest {
  const r = new TlsReader(body, "CertificateRequest");
  const context = r.vector(1, "certificate_request_context");
  const extensions = parseExtensions(r, "CertificateRequest", 2);
  r.end();
  return { context, extensions };
}

/** signature_algorithms / signature_algorithms_cert body: supported_signature_algorithms<2..2^16-2>. */
export function parseSignatureAlgorithms(data: Uint8Array, what: string): number[] {
  const r = new TlsReader(data, what);
  const list = r.u16List(2, "supported_signature_algorithms", 2);
  r.end();
  return list;
}

// ---- Certificate ----

export interface CertificateEntry {
  readonly certificate: Uint8Array;
  readonly extensions: Extension[];
}

export interface CertificateMessage {
  readonly context: Uint8Array;
  readonly entries: CertificateEntry[];
}

export function parseCertificate(body: Uint8Array, maxEntries = 10): CertificateMessage {
  const r = new TlsReader(body, "Certificate");
  const context = r.vector(1, "certificate_request_context");
  const list = r.sub(3, "certificate_list");
  const entries: CertificateEntry[] = [];
  while (!list.done) {
    if (entries.length >= maxEntries) throw new TlsDecodeError(`Certificate: more than ${maxEntries} certificates in the chain`);
    const certificate = list.vector(3, "cert_data", 1);
    const extensions = parseExtensions(list, "CertificateEntry");
    entries.push({ certificate, extensions });
  }
  r.end();
  return { context, entries };
}

export function encodeCertificate(context: Uint8Array, chain: readonly Uint8Array[]): Uint8Array {
  const entries = chain.map((der) => concatBytes(vector(3, der), vector(2, new Uint8Array(0))));
  return encodeHandshake(HandshakeType.certificate, concatBytes(vector(1, context), vector(3, ...entries)));
}

// ---- CertificateVerify ----

export interface CertificateVerify {
  readonly scheme: number;
  readonly signature: Uint8Array;
}

export function parseCertificateVerify(body: Uint8Array): CertificateVerify {
  const r = new TlsReader(body, "CertificateVerify");
  const scheme = r.u16("algorithm");
  const signature = r.vector(2, "signature", 1);
  r.end();
  return { scheme, signature };
}

export function encodeCertificateVerify(scheme: number, signature: Uint8Array): Uint8Array {
  return encodeHandshake(HandshakeType.certificate_verify, concatBytes(u16(scheme), vector(2, signature)));
}

const CONTEXT_SERVER = asciiToBytes("TLS 1.3, server CertificateVerify");
const CONTEXT_CLIENT = asciiToBytes("TLS 1.3, client CertificateVerify");

/** The content a CertificateVerify signs (RFC 8446 §4.4.3): 64 spaces, context string, 0, transcript hash. */
export function certificateVerifyContent(side: "server" | "client", transcriptHash: Uint8Array): Uint8Array {
  const out = new Uint8Array(64 + 33 + 1 + transcriptHash.length);
  out.fill(0x20, 0, 64);
  out.set(side === "server" ? CONTEXT_SERVER : CONTEXT_CLIENT, 64);
  out[64 + 33] = 0;
  out.set(transcriptHash, 64 + 33 + 1);
  return out;
}

// ---- Finished ----

export function parseFinished(body: Uint8Array, hashLength: number): Uint8Array {
  if (body.length !== hashLength) throw new TlsDecodeError(`Finished: verify_data is ${body.length} bytes, expected ${hashLength}`);
  return body;
}

export function encodeFinished(verifyData: Uint8Array): Uint8Array {
  return encodeHandshake(HandshakeType.finished, verifyData);
}

// ---- NewSessionTicket ----

export interface NewSessionTicket {
  readonly lifetimeSeconds: number;
  readonly ageAdd: number;
  readonly nonce: Uint8Array;
  readonly ticket: Uint8Array;
  readonly extensions: Extension[];
}

/** RFC 8446 §4.6.1: servers MUST NOT use any value greater than 604800 seconds (7 days). */
export const MAX_TICKET_LIFETIME = 604800;

export function parseNewSessionTicket(body: Uint8Array): NewSessionTicket {
  const r = new TlsReader(body, "NewSessionTicket");
  const lifetimeSeconds = r.u32("ticket_lifetime");
  const ageAdd = r.u32("ticket_age_add");
  const nonce = r.vector(1, "ticket_nonce");
  const ticket = r.vector(2, "ticket", 1);
  const extensions = parseExtensions(r, "NewSessionTicket");
  r.end();
  if (lifetimeSeconds > MAX_TICKET_LIFETIME) {
    throw new TlsIllegalParameterError(`NewSessionTicket: lifetime ${lifetimeSeconds} s exceeds the 7-day maximum`);
  }
  return { lifetimeSeconds, ageAdd, nonce, ticket, extensions };
}

// ---- KeyUpdate ----

export const KeyUpdateRequest = { update_not_requested: 0, update_requested: 1 } as const;

export function parseKeyUpdate(body: Uint8Array): boolean {
  const r = new TlsReader(body, "KeyUpdate");
  const request = r.u8("request_update");
  r.end();
  if (request !== 0 && request !== 1) throw new TlsIllegalParameterError(`KeyUpdate: request_update ${request} is neither 0 nor 1`);
  return request === 1;
}

export function encodeKeyUpdate(updateRequested: boolean): Uint8Array {
  return encodeHandshake(HandshakeType.key_update, u8(updateRequested ? 1 : 0));
}

// ---- message_hash (HelloRetryRequest transcript) ----

/** The synthetic message that replaces ClientHello1 in the transcript after a HelloRetryRequest (RFC 8446 §4.4.1). */
export function encodeMessageHash(hashOfClientHello1: Uint8Array): Uint8Array {
  return encodeHandshake(HandshakeType.message_hash, hashOfClientHello1);
}
