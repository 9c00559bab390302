/**
 * A scripted TLS 1.3 server for the client's state-machine tests (portable: runs in Node and XS).
 * It speaks enough TLS 1.3 to complete a handshake with the client, and every step can be bent by the
 * script (wrong messages, tampered records, odd extensions) to check that the client fails closed.
 * It reuses the firmware's record protection and key schedule, whose correctness the RFC 8448
 * known-answer tests and the openssl/Node interop tests establish independently.
 */
import { concatBytes } from "../../../modules/bytes/bytes.js";
import { nobleCrypto as provider } from "../../../modules/crypto/noble-provider.js";
import { parseCertificate as parseX509 } from "../../../modules/crypto/x509.js";
import { TLS_SIGNATURE_SCHEMES } from "../../../modules/crypto/provider.js";
import type { ByteLink } from "../../../modules/platform/platform.js";
import { memoryLinkPair } from "../../../modules/platform/memory-link.js";
import { TlsReader, u16, u16Vector, u8, vector } from "../../../modules/tls/codec.js";
import { CIPHER_SUITES, ContentType, ExtensionType, GROUPS, HandshakeType, HELLO_RETRY_REQUEST_RANDOM, type CipherSuiteInfo } from "../../../modules/tls/constants.js";
import { finishedVerifyData, KeySchedule, nextTrafficSecret, resumptionPsk, trafficKeys } from "../../../modules/tls/key-schedule.js";
import {
  certificateVerifyContent,
  encodeCertificate,
  encodeCertificateVerify,
  encodeFinished,
  encodeHandshake,
  encodeKeyUpdate,
  encodeMessageHash,
  parseCertificate,
  parseCertificateVerify,
  parseExtensions,
  type Extension,
  type KeyShareEntry,
} from "../../../modules/tls/messages.js";
import { RecordProtection } from "../../../modules/tls/record.js";
import { SoftwareCredential } from "../../../modules/tls/software-credential.js";
import { Transcript } from "../../../modules/tls/transcript.js";
import { byteLinkTransport, type TlsTransport } from "../../../modules/tls/transport.js";
import { SERVER_DER, SERVER_KEY } from "./fixtures.js";

export interface ClientHelloView {
  raw: Uint8Array;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuites: number[];
  extensions: Extension[];
  keyShares: KeyShareEntry[];
  groups: number[];
  signatureAlgorithms: number[];
  cookie: Uint8Array | undefined;
  serverName: string | undefined;
  recordSizeLimit: number | undefined;
  maxFragmentLength: number | undefined;
  alpn: string[];
  /** pre_shared_key, parsed as a server does: identities, binders, and where the binders start in `raw`. */
  psk: { identities: { identity: Uint8Array; obfuscatedTicketAge: number }[]; binders: Uint8Array[]; bindersOffset: number; last: boolean } | undefined;
}

/** Parses a ClientHello handshake message (header included) the way a server would. */
export function parseClientHello(raw: Uint8Array): ClientHelloView {
  const outer = new TlsReader(raw, "ClientHello");
  if (outer.u8("type") !== HandshakeType.client_hello) throw new Error("not a ClientHello");
  const r = new TlsReader(outer.vector(3, "body"), "ClientHello");
  r.u16("legacy_version");
  const random = r.bytes(32, "random");
  const sessionId = r.vector(1, "session id", 0, 32);
  const cipherSuites = r.u16List(2, "cipher_suites", 2);
  r.vector(1, "compression", 1);
  const extensions = parseExtensions(r, "ClientHello");
  r.end();
  const find = (type: number) => extensions.find((e) => e.type === type)?.data;
  const keyShares: KeyShareEntry[] = [];
  const ks = find(ExtensionType.key_share);
  if (ks) {
    const list = new TlsReader(ks, "key_share").sub(2, "client_shares");
    while (!list.done) keyShares.push({ group: list.u16("group"), keyExchange: list.vector(2, "key_exchange", 1) });
  }
  const groupsData = find(ExtensionType.supported_groups);
  const sigData = find(ExtensionType.signature_algorithms);
  const cookieData = find(ExtensionType.cookie);
  const sniData = find(ExtensionType.server_name);
  const rslData = find(ExtensionType.record_size_limit);
  const mflData = find(ExtensionType.max_fragment_length);
  const alpnData = find(ExtensionType.application_layer_protocol_negotiation);
  let serverName: string | undefined;
  if (sniData) {
    const list = new TlsReader(sniData, "server_name").sub(2, "list");
    list.u8("name_type");
    serverName = String.fromCharCode(...list.vector(2, "host_name"));
  }
  let psk: ClientHelloView["psk"];
  const pskData = find(ExtensionType.pre_shared_key);
  if (pskData) {
    const ext = new TlsReader(pskData, "pre_shared_key");
    const identities: { identity: Uint8Array; obfuscatedTicketAge: number }[] = [];
    const ids = ext.sub(2, "identities");
    while (!ids.done) identities.push({ identity: ids.vector(2, "identity", 1), obfuscatedTicketAge: ids.u32("obfuscated_ticket_age") });
    const bindersBytes = ext.vector(2, "binders", 33);
    ext.end();
    const binders: Uint8Array[] = [];
    const list = new TlsReader(bindersBytes, "binders");
    while (!list.done) binders.push(list.vector(1, "binder", 32));
    psk = { identities, binders, bindersOffset: raw.length - 2 - bindersBytes.length, last: extensions[extensions.length - 1]!.type === ExtensionType.pre_shared_key };
  }
  const alpn: string[] = [];
  if (alpnData) {
    const list = new TlsReader(alpnData, "alpn").sub(2, "list");
    while (!list.done) alpn.push(String.fromCharCode(...list.vector(1, "name")));
  }
  return {
    raw,
    random,
    sessionId,
    cipherSuites,
    extensions,
    keyShares,
    groups: groupsData ? new TlsReader(groupsData, "groups").u16List(2, "list") : [],
    signatureAlgorithms: sigData ? new TlsReader(sigData, "sigalgs").u16List(2, "list") : [],
    cookie: cookieData ? new TlsReader(cookieData, "cookie").vector(2, "cookie") : undefined,
    serverName,
    recordSizeLimit: rslData ? new TlsReader(rslData, "rsl").u16("limit") : undefined,
    maxFragmentLength: mflData ? mflData[0] : undefined,
    alpn,
    psk,
  };
}

export function extension(type: number, data: Uint8Array): Uint8Array {
  return concatBytes(u16(type), vector(2, data));
}

export interface ServerHelloFields {
  legacyVersion?: number;
  random?: Uint8Array;
  sessionIdEcho: Uint8Array;
  cipherSuite: number;
  extensions: Uint8Array[];
}

export function encodeServerHello(f: ServerHelloFields): Uint8Array {
  const random = f.random ?? new Uint8Array(32).fill(0x5a);
  return encodeHandshake(
    HandshakeType.server_hello,
    concatBytes(u16(f.legacyVersion ?? 0x0303), random, vector(1, f.sessionIdEcho), u16(f.cipherSuite), u8(0), f.extensions.length ? vector(2, ...f.extensions) : new Uint8Array(0)),
  );
}

export interface ReceivedRecord {
  type: number;
  content: Uint8Array;
  /** The outer record as it came (header included). */
  wire: Uint8Array;
}

/** One end of a scripted connection: raw record I/O with optional protection in each direction. */
export class FakeServer {
  readonly transport: TlsTransport;
  readonly clientLink: ByteLink;
  #read: RecordProtection | undefined;
  #write: RecordProtection | undefined;
  suite: CipherSuiteInfo = CIPHER_SUITES[0x1301]!;
  transcript = new Transcript(provider);
  clientHandshakeSecret: Uint8Array | undefined;
  serverHandshakeSecret: Uint8Array | undefined;
  clientAppSecret: Uint8Array | undefined;
  serverAppSecret: Uint8Array | undefined;
  resumptionSecret: Uint8Array | undefined;
  /** Content sizes of the protected records the client sent. */
  readonly clientRecordSizes: number[] = [];
  /** Every ClientHello received, in order. */
  readonly clientHellos: ClientHelloView[] = [];
  /** Every alert the client sent, in order. */
  readonly alerts: { level: number; description: number }[] = [];

  constructor() {
    const [clientEnd, serverEnd] = memoryLinkPair();
    this.clientLink = clientEnd;
    this.transport = byteLinkTransport(serverEnd);
  }

  /** The transport to hand to TlsClient.connect. */
  clientTransport(): TlsTransport {
    return byteLinkTransport(this.clientLink);
  }

  setReadKeys(secret: Uint8Array): void {
    this.#read = new RecordProtection(provider, this.suite, trafficKeys(provider, this.suite, secret));
  }
  setWriteKeys(secret: Uint8Array): void {
    this.#write = new RecordProtection(provider, this.suite, trafficKeys(provider, this.suite, secret));
  }

  async #readExactly(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let have = 0;
    while (have < n) {
      const chunk = await this.transport.read(n - have);
      if (chunk === null) return null;
      out.set(chunk, have);
      have += chunk.length;
    }
    return out;
  }

  /** The next record from the client (change_cipher_spec skipped), decrypted when read keys are set; null at EOF. */
  async readRecord(): Promise<ReceivedRecord | null> {
    for (;;) {
      const header = await this.#readExactly(5);
      if (!header) return null;
      const length = (header[3]! << 8) | header[4]!;
      const payload = (await this.#readExactly(length))!;
      const wire = concatBytes(header, payload);
      if (header[0] === ContentType.change_cipher_spec) continue;
      let record: ReceivedRecord = { type: header[0]!, content: payload, wire };
      if (this.#read && header[0] === ContentType.application_data) {
        const inner = this.#read.open(header, payload);
        this.clientRecordSizes.push(inner.content.length);
        record = { type: inner.type, content: inner.content, wire };
      }
      if (record.type === ContentType.alert) this.alerts.push({ level: record.content[0]!, description: record.content[1]! });
      return record;
    }
  }

  /** The next record, which must be a handshake record; returns its content. */
  async readHandshake(): Promise<Uint8Array> {
    const record = await this.readRecord();
    if (!record) throw new Error("client closed the connection");
    if (record.type !== ContentType.handshake) throw new Error(`expected a handshake record, got type ${record.type} (${Array.from(record.content).join(",")})`);
    return record.content;
  }

  /** The first alert the client sent (reading on until one arrives), or undefined if it closed without one. */
  async readAlert(): Promise<{ level: number; description: number } | undefined> {
    while (this.alerts.length === 0) {
      let record: ReceivedRecord | null;
      try {
        record = await this.readRecord();
      } catch {
        return undefined;
      }
      if (!record) return undefined;
    }
    return this.alerts[0];
  }

  /** Sends one record of `type` (protected when write keys are set). */
  async send(type: number, content: Uint8Array, padding = 0): Promise<void> {
    await this.transport.write(this.protect(type, content, padding));
  }

  /** The wire bytes of one record (protected when write keys are set). */
  protect(type: number, content: Uint8Array, padding = 0): Uint8Array {
    if (this.#write) return this.#write.seal(type, content, padding);
    return concatBytes(Uint8Array.of(type, 3, 3), u16(content.length), content);
  }

  async sendRaw(bytes: Uint8Array): Promise<void> {
    await this.transport.write(bytes);
  }

  /** Handshake messages split into records of at most `fragment` bytes (default: one record). */
  async sendHandshake(messages: Uint8Array[], fragment?: number): Promise<void> {
    const all = concatBytes(...messages);
    if (!fragment) return this.send(ContentType.handshake, all);
    for (let i = 0; i < all.length; i += fragment) await this.send(ContentType.handshake, all.subarray(i, i + fragment));
  }

  async sendApplicationData(data: Uint8Array): Promise<void> {
    await this.send(ContentType.application_data, data);
  }

  async readApplicationData(): Promise<Uint8Array> {
    const record = await this.readRecord();
    if (!record) throw new Error("client closed the connection");
    if (record.type !== ContentType.application_data) throw new Error(`expected application data, got record type ${record.type}`);
    return record.content;
  }

  /** Sends a KeyUpdate and switches the server's sending keys. */
  async sendKeyUpdate(requestUpdate: boolean): Promise<void> {
    await this.send(ContentType.handshake, encodeKeyUpdate(requestUpdate));
    this.serverAppSecret = nextTrafficSecret(provider, this.suite.hash, this.serverAppSecret!);
    this.setWriteKeys(this.serverAppSecret);
  }

  /** Switches the server's receiving keys after the client's KeyUpdate. */
  followClientKeyUpdate(): void {
    this.clientAppSecret = nextTrafficSecret(provider, this.suite.hash, this.clientAppSecret!);
    this.setReadKeys(this.clientAppSecret);
  }

  async sendNewSessionTicket(ticket: Uint8Array, nonce: Uint8Array, lifetime = 3600): Promise<Uint8Array> {
    const body = concatBytes(u8(lifetime >>> 24), u8(lifetime >>> 16), u8(lifetime >>> 8), u8(lifetime), Uint8Array.of(1, 2, 3, 4), vector(1, nonce), vector(2, ticket), vector(2, new Uint8Array(0)));
    await this.send(ContentType.handshake, encodeHandshake(HandshakeType.new_session_ticket, body));
    return resumptionPsk(provider, this.suite.hash, this.resumptionSecret!, nonce);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

export interface HandshakeScript {
  /** Cipher suite the server picks (default: the client's first). */
  cipherSuite?: number;
  /** Send a HelloRetryRequest first. */
  helloRetry?: { selectedGroup?: number; cookie?: Uint8Array; cipherSuite?: number };
  /** Answer the second ClientHello with another HelloRetryRequest. */
  secondHelloRetry?: boolean;
  /** Edits the ServerHello fields before encoding. */
  serverHello?: (fields: ServerHelloFields) => void;
  /** Extensions in EncryptedExtensions (encoded), default none. */
  encryptedExtensions?: Uint8Array[];
  /** Ask for a client certificate (with these signature algorithms). */
  certificateRequest?: { signatureAlgorithms: number[] };
  /** Certificate chain the server presents. */
  chain?: Uint8Array[];
  /** Edits the server's encrypted flight (EE, [CR], Certificate, CV, Finished) before sending. */
  flight?: (messages: Uint8Array[]) => Uint8Array[];
  /** Record size for the encrypted flight (default: all in one record). */
  fragment?: number;
  /** Edits the encrypted flight's wire bytes (tampering). */
  tamper?: (wire: Uint8Array) => Uint8Array;
  /** Runs after the ServerHello and before the encrypted flight (e.g. to send a stray record). */
  beforeFlight?: (server: FakeServer) => Promise<void>;
  /** Send a change_cipher_spec record after the ServerHello. */
  changeCipherSpec?: boolean;
  /** Corrupt the CertificateVerify signature / the Finished MAC. */
  badSignature?: boolean;
  badFinished?: boolean;
  /**
   * Accept the client's PSK (a resumption): the ServerHello selects `selectedIdentity` (default 0) and
   * the flight has no Certificate or CertificateVerify (but a CertificateRequest if the script asks).
   * The binder of every ClientHello offering a PSK is checked against `psk` (outcome.bindersValid).
   */
  resume?: { psk: Uint8Array; selectedIdentity?: number };
}

export interface HandshakeOutcome {
  clientHellos: ClientHelloView[];
  /** The client's Certificate message entries (when a certificate was requested). */
  clientChain: Uint8Array[] | undefined;
  /** Whether the client's CertificateVerify verified with its certificate key. */
  clientSignatureValid: boolean | undefined;
  clientSignatureScheme: number | undefined;
  /** Per ClientHello that offered a PSK: whether its binder verified under script.resume.psk. */
  bindersValid: boolean[];
}

const serverSigner = new SoftwareCredential({ privateKey: SERVER_KEY, certificateChain: [SERVER_DER] });

/**
 * Plays the server side of a handshake following `script`. Resolves after the client's Finished
 * was verified (the server then holds application keys both ways), or when the script sent a
 * message the client must refuse (then the caller reads the client's alert).
 */
export async function serveHandshake(server: FakeServer, script: HandshakeScript = {}): Promise<HandshakeOutcome> {
  const outcome: HandshakeOutcome = { clientHellos: [], clientChain: undefined, clientSignatureValid: undefined, clientSignatureScheme: undefined, bindersValid: [] };
  // The binder covers the transcript before this ClientHello and the ClientHello up to its binders.
  const checkBinder = (hello: ClientHelloView, before: Uint8Array[]) => {
    if (!script.resume || !hello.psk) return;
    const hash = (CIPHER_SUITES[script.cipherSuite ?? hello.cipherSuites[0]!] ?? CIPHER_SUITES[0x1301]!).hash;
    const binderKey = new KeySchedule(provider, hash, script.resume.psk).binderKey();
    const covered = provider.hash(hash, concatBytes(...before, hello.raw.subarray(0, hello.psk.bindersOffset)));
    const expected = finishedVerifyData(provider, hash, binderKey, covered);
    const got = hello.psk.binders[0]!;
    outcome.bindersValid.push(got.length === expected.length && got.every((b, i) => b === expected[i]));
  };
  let ch = parseClientHello(await server.readHandshake());
  outcome.clientHellos.push(ch);
  server.clientHellos.push(ch);
  checkBinder(ch, []);
  const suiteCode = script.cipherSuite ?? ch.cipherSuites[0]!;
  server.suite = CIPHER_SUITES[suiteCode] ?? CIPHER_SUITES[0x1301]!;
  const versions = extension(ExtensionType.supported_versions, u16(0x0304));

  if (script.helloRetry) {
    const exts = [versions];
    if (script.helloRetry.selectedGroup !== undefined) exts.push(extension(ExtensionType.key_share, u16(script.helloRetry.selectedGroup)));
    if (script.helloRetry.cookie) exts.push(extension(ExtensionType.cookie, vector(2, script.helloRetry.cookie)));
    const hrr = encodeServerHello({ random: HELLO_RETRY_REQUEST_RANDOM, sessionIdEcho: ch.sessionId, cipherSuite: script.helloRetry.cipherSuite ?? suiteCode, extensions: exts });
    server.transcript.add(ch.raw);
    server.transcript.replaceWithMessageHash(server.suite.hash);
    server.transcript.add(hrr);
    await server.send(ContentType.handshake, hrr);
    const firstHello = ch.raw;
    ch = parseClientHello(await server.readHandshake());
    outcome.clientHellos.push(ch);
    server.clientHellos.push(ch);
    checkBinder(ch, [encodeMessageHash(provider.hash(server.suite.hash, firstHello)), hrr]);
    server.transcript.add(ch.raw);
    if (script.secondHelloRetry) {
      await server.send(ContentType.handshake, hrr);
      return outcome;
    }
  } else {
    server.transcript.add(ch.raw);
  }

  const share = ch.keyShares[0]!;
  const group = GROUPS[share.group]!.name;
  const pair = provider.ecdhKeyPair(group, new Uint8Array(provider.ecdhSeedLength(group)).fill(7));
  const fields: ServerHelloFields = {
    sessionIdEcho: ch.sessionId,
    cipherSuite: suiteCode,
    extensions: [versions, extension(ExtensionType.key_share, concatBytes(u16(share.group), vector(2, pair.publicKey)))],
  };
  const resumed = script.resume !== undefined && ch.psk !== undefined;
  if (resumed) fields.extensions.push(extension(ExtensionType.pre_shared_key, u16(script.resume!.selectedIdentity ?? 0)));
  script.serverHello?.(fields);
  const serverHello = encodeServerHello(fields);
  server.transcript.start(server.suite.hash);
  server.transcript.add(serverHello);
  await server.send(ContentType.handshake, serverHello);
  if (script.changeCipherSpec) await server.sendRaw(Uint8Array.of(20, 3, 3, 0, 1, 1));

  const schedule = new KeySchedule(provider, server.suite.hash, resumed ? script.resume!.psk : undefined);
  let sharedSecret: Uint8Array;
  try {
    sharedSecret = provider.ecdhSharedSecret(group, pair.privateKey, share.keyExchange);
  } catch {
    return outcome;
  }
  const hs = schedule.handshake(sharedSecret, server.transcript.hash());
  server.clientHandshakeSecret = hs.clientHandshakeTrafficSecret;
  server.serverHandshakeSecret = hs.serverHandshakeTrafficSecret;
  server.setWriteKeys(hs.serverHandshakeTrafficSecret);
  server.setReadKeys(hs.clientHandshakeTrafficSecret);
  await script.beforeFlight?.(server);

  // The flight is built message by message so the transcript matches what is finally sent.
  const ee = encodeHandshake(HandshakeType.encrypted_extensions, vector(2, ...(script.encryptedExtensions ?? [])));
  const messages: Uint8Array[] = [ee];
  if (script.certificateRequest) {
    const sigAlgs = extension(ExtensionType.signature_algorithms, u16Vector(2, script.certificateRequest.signatureAlgorithms));
    messages.push(encodeHandshake(HandshakeType.certificate_request, concatBytes(vector(1, new Uint8Array(0)), vector(2, sigAlgs))));
  }
  if (!resumed) messages.push(encodeCertificate(new Uint8Array(0), script.chain ?? [SERVER_DER]));
  const flight = script.flight ? script.flight(messages) : messages;
  const sent: Uint8Array[] = [];
  for (const m of flight) {
    server.transcript.add(m);
    sent.push(m);
  }
  if (!resumed) {
    const scheme = 0x0403;
    const signature = await serverSigner.sign(scheme, provider.hash("sha256", certificateVerifyContent("server", server.transcript.hash())));
    if (script.badSignature) signature[signature.length - 3]! ^= 0x01;
    const cv = encodeCertificateVerify(scheme, signature);
    server.transcript.add(cv);
    sent.push(cv);
  }
  const finishedData = finishedVerifyData(provider, server.suite.hash, hs.serverHandshakeTrafficSecret, server.transcript.hash());
  if (script.badFinished) finishedData[0]! ^= 0x80;
  const finished = encodeFinished(finishedData);
  server.transcript.add(finished);
  const all = [...sent, finished];
  if (script.tamper) {
    const wire = server.protect(ContentType.handshake, concatBytes(...all));
    await server.sendRaw(script.tamper(wire));
  } else {
    await server.sendHandshake(all, script.fragment);
  }
  const app = schedule.application(server.transcript.hash());
  server.serverAppSecret = app.serverApplicationTrafficSecret;
  server.clientAppSecret = app.clientApplicationTrafficSecret;
  server.setWriteKeys(app.serverApplicationTrafficSecret);

  // The client's second flight.
  let clientKey: ReturnType<typeof parseX509>["subjectPublicKeyInfo"]["key"];
  for (;;) {
    const content = await server.readHandshake();
    const type = content[0]!;
    const msgBody = content.subarray(4);
    if (type === HandshakeType.certificate) {
      const cert = parseCertificate(msgBody);
      outcome.clientChain = cert.entries.map((e) => e.certificate);
      if (outcome.clientChain.length > 0) clientKey = parseX509(outcome.clientChain[0]!).subjectPublicKeyInfo.key;
      server.transcript.add(content);
    } else if (type === HandshakeType.certificate_verify) {
      const cvMsg = parseCertificateVerify(msgBody);
      outcome.clientSignatureScheme = cvMsg.scheme;
      const info = TLS_SIGNATURE_SCHEMES[cvMsg.scheme]!;
      outcome.clientSignatureValid = clientKey !== undefined && provider.verify(info.algorithm, clientKey, certificateVerifyContent("client", server.transcript.hash()), cvMsg.signature);
      server.transcript.add(content);
    } else if (type === HandshakeType.finished) {
      const expected = finishedVerifyData(provider, server.suite.hash, hs.clientHandshakeTrafficSecret, server.transcript.hash());
      const got = msgBody;
      if (got.length !== expected.length || got.some((b, i) => b !== expected[i])) throw new Error("client Finished does not verify");
      server.transcript.add(content);
      break;
    } else {
      throw new Error(`unexpected client handshake message ${type}`);
    }
  }
  server.resumptionSecret = schedule.resumption(server.transcript.hash());
  server.setReadKeys(app.clientApplicationTrafficSecret);
  return outcome;
}
