/**
 * The TLS 1.3 client (RFC 8446): a strict handshake state machine, then application data, KeyUpdate,
 * NewSessionTicket and close_notify. Key operations of the client credential are asynchronous (the
 * key may sit in a SIM; a signature can take seconds); everything else goes through the crypto
 * provider. Any protocol violation sends the matching alert, closes the transport and surfaces as a
 * typed TlsError; later calls fail with TlsClosedError.
 */
import { bytesEqual, toHex } from "../bytes/bytes.js";
import { parseIpAddress, TrustStore, type PinSet } from "../crypto/path.js";
import { CryptoError, type CryptoProvider, type EcdhKeyPair, type PublicKey } from "../crypto/provider.js";
import { certificateLabel } from "../crypto/x509.js";
import type { Platform } from "../platform/platform.js";
import { TimeoutError, withTimeout } from "../platform/time.js";
import {
  AlertDescription,
  AlertLevel,
  CIPHER_SUITES,
  ContentType,
  DEFAULT_SIGNATURE_ALGORITHMS,
  DEFAULT_SIGNATURE_ALGORITHMS_CERT,
  DOWNGRADE_TLS11,
  DOWNGRADE_TLS12,
  ExtensionType,
  extensionName,
  GROUPS,
  groupName,
  HandshakeType,
  handshakeName,
  HELLO_RETRY_REQUEST_RANDOM,
  MAX_PLAINTEXT,
  MIN_RECORD_SIZE_LIMIT,
  NamedGroup,
  signatureSchemeName,
  TLS12_VERSION,
  TLS13_VERSION,
  type CipherSuiteInfo,
} from "./constants.js";
import type { ClientCredential } from "./credential.js";
import {
  TlsAlertError,
  TlsClosedError,
  TlsConfigError,
  TlsCredentialError,
  TlsDecodeError,
  TlsDowngradeError,
  TlsError,
  TlsHandshakeFailureError,
  TlsIllegalParameterError,
  TlsProtocolVersionError,
  TlsTimeoutError,
  TlsUnexpectedMessageError,
  TlsUnsupportedExtensionError,
  TlsVerificationError,
} from "./errors.js";
import { HandshakeAssembler } from "./handshake-assembler.js";
import { finishedVerifyData, KeySchedule, nextTrafficSecret, resumptionPsk, trafficKeys } from "./key-schedule.js";
import {
  certificateVerifyContent,
  checkEmptyExtension,
  encodeCertificate,
  encodeCertificateVerify,
  encodeClientHello,
  pskBindersLength,
  encodeFinished,
  encodeKeyUpdate,
  findExtension,
  parseCertificate,
  parseCertificateRequest,
  parseCertificateVerify,
  parseCookie,
  parseEncryptedExtensions,
  parseFinished,
  parseKeyUpdate,
  parseMaxFragmentLength,
  parseNewSessionTicket,
  parseRecordSizeLimit,
  parseSelectedAlpn,
  parseSelectedGroup,
  parseSelectedIdentity,
  parseSelectedVersion,
  parseServerHello,
  parseServerKeyShare,
  parseSignatureAlgorithms,
  type ClientHelloParams,
  type Extension,
  type HandshakeMessage,
  type KeyShareEntry,
  type ServerHello,
} from "./messages.js";
import { RecordLayer } from "./record.js";
import { authenticateServerChain, verifyServerSignature } from "./server-auth.js";
import type { TlsTransport } from "./transport.js";
import { Transcript } from "./transcript.js";

export interface TlsClientOptions {
  /** The server's DNS name (sent as server_name and checked against the certificate) or an IP literal. */
  serverName: string;
  platform: Platform;
  provider: CryptoProvider;
  /** Trust anchors: a TrustStore, or DER certificates / PEM texts. */
  trustAnchors: TrustStore | ReadonlyArray<Uint8Array | string>;
  /** Optional pinning of the server's leaf certificate or key (in addition to the chain check). */
  pins?: PinSet;
  /** Sent when the server asks for a client certificate; without one an empty Certificate is sent. */
  credential?: ClientCredential;
  /** ALPN protocol names, in preference order. */
  alpn?: readonly string[];
  /** Wall clock (epoch ms) for certificate validity. Default: platform.wallClock(). */
  clock?: () => number;
  /**
   * RFC 8449 record_size_limit we advertise: the largest TLSInnerPlaintext (content + 1) the server
   * may send us, so records fit the device's memory. 64..16385, default 4096.
   */
  recordSizeLimit?: number;
  /**
   * Also offer RFC 6066 max_fragment_length (for servers without record_size_limit, such as
   * OpenSSL): the largest power of two 512..4096 not above recordSizeLimit. Default true when the
   * limit is below 16385.
   */
  offerMaxFragmentLength?: boolean;
  /** Cipher suites in preference order. Default: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305. */
  cipherSuites?: readonly number[];
  /** supported_groups in preference order. Default: secp256r1, x25519. */
  groups?: readonly number[];
  /** Groups we send a key share for in the first ClientHello. Default: the first of `groups`. */
  keyShareGroups?: readonly number[];
  /** Schemes accepted in the server's CertificateVerify. */
  signatureAlgorithms?: readonly number[];
  /** Schemes accepted in certificate signatures (signature_algorithms_cert). */
  signatureAlgorithmsCert?: readonly number[];
  /** RFC 8446 §D.4 middlebox compatibility (session id + change_cipher_spec). Default true. */
  middleboxCompatibility?: boolean;
  /** The whole handshake must finish within this time. Default 60000 ms (a SIM signature takes seconds). */
  handshakeTimeoutMs?: number;
  /** Largest handshake message accepted (the server's Certificate message is the big one). Default 16384. */
  maxHandshakeMessageLength?: number;
  /** Session tickets kept (newest first). Default 2. */
  maxTickets?: number;
  /**
   * A ticket from an earlier connection to this server (`tickets[0]` of that TlsClient) to offer for
   * resumption (RFC 8446 §2.2, psk_dhe_ke: a fresh ECDHE still runs). When the server accepts it, the
   * handshake carries no certificates and no CertificateVerify either way: the SIM signs nothing.
   * When the server declines it, a full handshake follows. A ticket that is expired, for another
   * server or for a cipher suite not offered is not sent (logged).
   */
  resumption?: SessionTicket;
}

/** A NewSessionTicket with what a later resumption needs (TlsClientOptions.resumption). */
export interface SessionTicket {
  readonly ticket: Uint8Array;
  readonly lifetimeSeconds: number;
  readonly ageAdd: number;
  readonly nonce: Uint8Array;
  /** The PSK this ticket stands for (RFC 8446 §4.6.1). */
  readonly psk: Uint8Array;
  readonly cipherSuite: number;
  readonly serverName: string;
  readonly alpn: string | undefined;
  /** platform.now() when received. */
  readonly receivedAt: number;
  /** max_early_data_size from the early_data extension, when present. */
  readonly maxEarlyDataSize: number | undefined;
  /** The server certificate authenticated by the full handshake this ticket descends from. */
  readonly serverCertificate: ServerCertificateSummary;
}

/** Longest ticket lifetime a client may honour (RFC 8446 §4.6.1: seven days). */
const MAX_TICKET_LIFETIME_SECONDS = 604800;

/** What a connection keeps of the server's (authenticated) leaf certificate. */
export interface ServerCertificateSummary {
  readonly commonName: string | undefined;
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: number;
  readonly label: string;
}

export interface TlsConnectionInfo {
  readonly version: "TLSv1.3";
  readonly cipherSuite: string;
  readonly cipherSuiteCode: number;
  readonly group: string;
  readonly alpn: string | undefined;
  readonly helloRetryRequest: boolean;
  /** The server accepted our resumption ticket: no certificates were exchanged in this handshake. */
  readonly resumed: boolean;
  /** The server's certificate: authenticated now, or (resumed) by the handshake the ticket came from. */
  readonly serverCertificate: ServerCertificateSummary;
  /** The scheme of the server's CertificateVerify; undefined when resumed (there was none). */
  readonly serverSignatureScheme: string | undefined;
  readonly clientCertificateRequested: boolean;
  /** The scheme our CertificateVerify used (undefined when no certificate was sent). */
  readonly clientSignatureScheme: string | undefined;
  /** record_size_limit the server advertised, if any. */
  readonly peerRecordSizeLimit: number | undefined;
  /** max_fragment_length negotiated (bytes), if any. */
  readonly maxFragmentLength: number | undefined;
  /** Content bytes per record we accept / send. */
  readonly receiveLimit: number;
  readonly sendLimit: number;
}

export interface TlsHandshakeStats {
  bytesSent: number;
  bytesReceived: number;
  recordsSent: number;
  recordsReceived: number;
  /** Milliseconds from connect() to the end of our Finished flight. */
  totalMs: number;
  /** Milliseconds from connect() to the ServerHello. */
  serverHelloMs: number;
  /** Time spent generating key shares and computing the shared secret. */
  keyExchangeMs: number;
  /** Time spent validating the server's chain and CertificateVerify. */
  serverAuthMs: number;
  /** Time waiting for the credential (certificate chain + signature: the SIM operations). */
  credentialMs: number;
}

export interface TlsStats {
  bytesSent: number;
  bytesReceived: number;
  recordsSent: number;
  recordsReceived: number;
  keyUpdatesSent: number;
  keyUpdatesReceived: number;
  ticketsReceived: number;
  handshake: TlsHandshakeStats | undefined;
}

type State = "handshaking" | "connected" | "closed" | "failed";

const DEFAULT_CIPHER_SUITES = [0x1301, 0x1302, 0x1303];
const DEFAULT_GROUPS = [NamedGroup.secp256r1, NamedGroup.x25519];
const PSK_DHE_KE = 1;
/** Extensions a ServerHello / HelloRetryRequest may carry (RFC 8446 §4.2 table). */
const SERVER_HELLO_EXTENSIONS = new Set<number>([ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.pre_shared_key]);
const HRR_EXTENSIONS = new Set<number>([ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.cookie]);
const ENCRYPTED_EXTENSIONS = new Set<number>([
  ExtensionType.server_name,
  ExtensionType.max_fragment_length,
  ExtensionType.supported_groups,
  ExtensionType.use_srtp,
  ExtensionType.heartbeat,
  ExtensionType.application_layer_protocol_negotiation,
  ExtensionType.client_certificate_type,
  ExtensionType.server_certificate_type,
  ExtensionType.record_size_limit,
  ExtensionType.early_data,
]);

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function tail8Equals(random: Uint8Array, sentinel: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if (random[24 + i] !== sentinel[i]) return false;
  return true;
}

function versionName(version: number): string {
  const names: Record<number, string> = { 0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3" };
  return names[version] ?? `version 0x${version.toString(16).padStart(4, "0")}`;
}

/** The largest max_fragment_length code (1..4 → 2^9..2^12) whose size fits `limit` content bytes. */
function maxFragmentCodeFor(limit: number): number | undefined {
  let code: number | undefined;
  for (let c = 1; c <= 4; c++) if (2 ** (8 + c) <= limit) code = c;
  return code;
}

interface Resolved {
  serverName: string;
  sniName: string | undefined;
  cipherSuites: number[];
  groups: number[];
  keyShareGroups: number[];
  signatureAlgorithms: number[];
  signatureAlgorithmsCert: number[];
  recordSizeLimit: number;
  maxFragmentCode: number | undefined;
  middlebox: boolean;
  handshakeTimeoutMs: number;
  maxHandshakeMessageLength: number;
  maxTickets: number;
  clock: () => number;
}

/** The trust anchors, parsed (so that a bad anchor is reported before any byte is sent). */
function resolveTrustStore(options: TlsClientOptions): TrustStore {
  const anchors = options.trustAnchors;
  if (!anchors) throw new TlsConfigError("trustAnchors is required (server authentication is never skipped)");
  const trustStore = anchors instanceof TrustStore ? anchors : new TrustStore(anchors);
  if (trustStore.anchors.length === 0) throw new TlsConfigError("trustAnchors is empty (server authentication is never skipped)");
  return trustStore;
}

function resolveOptions(options: TlsClientOptions): Resolved {
  const fail = (message: string): never => {
    throw new TlsConfigError(message);
  };
  if (typeof options.serverName !== "string" || options.serverName.length === 0) fail("serverName is required");
  const serverName = options.serverName;
  const ip = parseIpAddress(serverName);
  let sniName: string | undefined;
  if (!ip) {
    // RFC 6066 §3: HostName is the ASCII (A-label) DNS name, without a trailing dot; IP literals are not sent.
    sniName = serverName.endsWith(".") ? serverName.slice(0, -1) : serverName;
    if (sniName.length === 0 || sniName.length > 253 || !/^[A-Za-z0-9._-]+$/.test(sniName)) fail(`serverName "${serverName}" is neither a DNS name nor an IP literal`);
  }
  const cipherSuites = [...(options.cipherSuites ?? DEFAULT_CIPHER_SUITES)];
  if (cipherSuites.length === 0) fail("no cipher suites configured");
  for (const s of cipherSuites) if (!CIPHER_SUITES[s]) fail(`cipher suite 0x${s.toString(16)} is not implemented`);
  const groups = [...(options.groups ?? DEFAULT_GROUPS)];
  if (groups.length === 0) fail("no groups configured");
  for (const g of groups) if (!GROUPS[g]) fail(`group 0x${g.toString(16)} is not implemented`);
  const keyShareGroups = [...(options.keyShareGroups ?? [groups[0]!])];
  for (const g of keyShareGroups) if (groups.indexOf(g) < 0) fail(`key share group ${groupName(g)} is not in groups`);
  const recordSizeLimit = options.recordSizeLimit ?? 4096;
  if (!Number.isInteger(recordSizeLimit) || recordSizeLimit < MIN_RECORD_SIZE_LIMIT || recordSizeLimit > MAX_PLAINTEXT + 1) {
    fail(`recordSizeLimit ${recordSizeLimit} is outside ${MIN_RECORD_SIZE_LIMIT}..${MAX_PLAINTEXT + 1}`);
  }
  const offerMfl = options.offerMaxFragmentLength ?? recordSizeLimit <= MAX_PLAINTEXT;
  const alpn = options.alpn ?? [];
  for (const name of alpn) if (name.length === 0 || name.length > 255 || !/^[\x20-\x7e]+$/.test(name)) fail(`ALPN protocol name ${JSON.stringify(name)} is not 1..255 printable ASCII characters`);
  if (options.credential && options.credential.schemes.length === 0) fail("credential lists no signature schemes");
  return {
    serverName,
    sniName,
    cipherSuites,
    groups,
    keyShareGroups,
    signatureAlgorithms: [...(options.signatureAlgorithms ?? DEFAULT_SIGNATURE_ALGORITHMS)],
    signatureAlgorithmsCert: [...(options.signatureAlgorithmsCert ?? DEFAULT_SIGNATURE_ALGORITHMS_CERT)],
    recordSizeLimit,
    maxFragmentCode: offerMfl ? maxFragmentCodeFor(recordSizeLimit) : undefined,
    middlebox: options.middleboxCompatibility ?? true,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 60000,
    maxHandshakeMessageLength: options.maxHandshakeMessageLength ?? 16384,
    maxTickets: options.maxTickets ?? 2,
    clock: options.clock ?? (() => options.platform.wallClock()),
  };
}

export class TlsClient {
  readonly #options: TlsClientOptions;
  readonly #cfg: Resolved;
  readonly #platform: Platform;
  readonly #provider: CryptoProvider;
  readonly #transport: TlsTransport;
  readonly #records: RecordLayer;
  readonly #assembler: HandshakeAssembler;
  /**
   * Parsed trust anchors, held only while the handshake runs: parsed certificates cost hundreds of
   * XS slots, which a connection that lasts for hours should not keep.
   */
  #trustStore: TrustStore | undefined;
  #state: State = "handshaking";
  #failure: unknown;
  #peerClosed = false;
  #closeNotifySent = false;
  #writeChain: Promise<unknown> = Promise.resolve();
  #readBusy = false;
  #applicationDataReceived = false;
  /** Our Certificate and CertificateVerify went out: the server may now refuse them. */
  #clientAuthSent = false;

  #suite: CipherSuiteInfo | undefined;
  #clientTrafficSecret: Uint8Array | undefined;
  #serverTrafficSecret: Uint8Array | undefined;
  #resumptionSecret: Uint8Array | undefined;
  #info: TlsConnectionInfo | undefined;
  #tickets: SessionTicket[] = [];
  /** Set when we answered a CertificateRequest with no certificate: explains a later certificate_required alert. */
  #clientAuthNote: string | undefined;

  readonly stats: TlsStats;

  private constructor(transport: TlsTransport, options: TlsClientOptions) {
    this.#options = options;
    this.#cfg = resolveOptions(options);
    this.#trustStore = resolveTrustStore(options);
    this.#platform = options.platform;
    this.#provider = options.provider;
    this.#transport = transport;
    this.#records = new RecordLayer(transport, options.provider);
    this.#assembler = new HandshakeAssembler(this.#cfg.maxHandshakeMessageLength);
    const counters = this.#records.counters;
    this.stats = {
      get bytesSent() {
        return counters.bytesSent;
      },
      get bytesReceived() {
        return counters.bytesReceived;
      },
      get recordsSent() {
        return counters.recordsSent;
      },
      get recordsReceived() {
        return counters.recordsReceived;
      },
      keyUpdatesSent: 0,
      keyUpdatesReceived: 0,
      ticketsReceived: 0,
      handshake: undefined,
    };
  }

  /**
   * Runs the handshake over `transport` and resolves once our Finished is sent. Rejects with a
   * TlsError subclass (the transport is closed then). Note that in TLS 1.3 the server checks our
   * certificate after this point: a rejection of it arrives as a TlsAlertError from read().
   */
  static async connect(transport: TlsTransport, options: TlsClientOptions): Promise<TlsClient> {
    const client = new TlsClient(transport, options);
    await client.#runHandshake();
    return client;
  }

  /** Negotiated parameters; available once connect() resolved. */
  get info(): TlsConnectionInfo {
    if (!this.#info) throw new TlsClosedError("no connection information: the handshake has not completed");
    return this.#info;
  }

  /** Session tickets received so far, newest first (bounded by maxTickets). */
  get tickets(): readonly SessionTicket[] {
    return this.#tickets;
  }

  /** True once the server sent close_notify. */
  get peerClosed(): boolean {
    return this.#peerClosed;
  }

  // ---- public data API ----

  /**
   * The next application data from the server, or null after the server's close_notify.
   * Post-handshake messages (NewSessionTicket, KeyUpdate) are handled on the way.
   */
  async read(): Promise<Uint8Array | null> {
    if (this.#readBusy) throw new TlsConfigError("read() called while another read() is pending");
    if (this.#peerClosed) return null;
    this.#checkUsable();
    this.#readBusy = true;
    try {
      for (;;) {
        const data = await this.#readRecordPostHandshake();
        if (data === null) return null;
        if (data.length > 0) return data;
      }
    } catch (error) {
      return await this.#abort(error);
    } finally {
      this.#readBusy = false;
    }
  }

  /** Sends application data (split into records of at most the negotiated size). */
  async write(data: Uint8Array): Promise<void> {
    this.#checkUsable();
    if (this.#closeNotifySent) throw new TlsClosedError("write() after close()");
    if (data.length === 0) return;
    try {
      await this.#serialized(() => this.#records.write(ContentType.application_data, data));
    } catch (error) {
      await this.#abort(error);
    }
  }

  /**
   * A transport that breaks after our certificate went out and before the server said anything:
   * in TLS 1.3 that is how a refused certificate or CertificateVerify shows when its alert is lost.
   */
  #explainEarlyClose(error: unknown): unknown {
    if (this.#applicationDataReceived || !(error instanceof Error)) return error;
    return new TlsClosedError(
      `${this.#cfg.serverName} closed the connection right after the handshake, before replying (${error.message}): it most likely rejected our client certificate or CertificateVerify`,
    );
  }

  /**
   * After a transport failure: a server that refused us (for example our CertificateVerify, which
   * a TLS 1.3 client only learns about after its Finished) sends an alert and closes. That alert,
   * if it is already here, says why; the broken transport does not.
   */
  async #alertAlreadyReceived(): Promise<TlsError | undefined> {
    if (this.#readBusy) return undefined;
    try {
      const record = await withTimeout(this.#platform, this.#records.read(), 1000, () => new TimeoutError("no alert"));
      if (record?.type === ContentType.alert) return this.#alertError(record.content, "after our Finished");
    } catch {
      // Nothing readable: the transport error stands.
    }
    return undefined;
  }

  /**
   * Sends a KeyUpdate and switches our sending keys. With `requestPeerUpdate` (default) the server
   * must update its keys too (its KeyUpdate is processed by read()).
   */
  async requestKeyUpdate(requestPeerUpdate = true): Promise<void> {
    this.#checkUsable();
    if (this.#closeNotifySent) throw new TlsClosedError("requestKeyUpdate() after close()");
    try {
      await this.#serialized(() => this.#sendKeyUpdate(requestPeerUpdate));
    } catch (error) {
      await this.#abort(error);
    }
  }

  /** Sends close_notify (once) and closes the transport. Harmless when already closed or failed. */
  async close(): Promise<void> {
    if (this.#state === "closed" || this.#state === "failed") return;
    this.#state = "closed";
    if (!this.#closeNotifySent) {
      this.#closeNotifySent = true;
      try {
        await this.#serialized(() => this.#records.write(ContentType.alert, Uint8Array.of(AlertLevel.warning, AlertDescription.close_notify)));
      } catch {
        // The transport may already be gone; closing is all that is left to do.
      }
    }
    await this.#closeTransport();
  }

  // ---- failure handling ----

  #checkUsable(): void {
    if (this.#state === "failed") {
      const reason = this.#failure instanceof Error ? `${this.#failure.name}: ${this.#failure.message}` : String(this.#failure);
      throw new TlsClosedError(`connection failed earlier (${reason})`);
    }
    if (this.#state === "closed") throw new TlsClosedError("connection is closed");
    if (this.#state === "handshaking") throw new TlsClosedError("handshake has not completed");
  }

  /** Sends the alert the failure calls for (best effort), closes the transport, rethrows. */
  async #abort(error: unknown): Promise<never> {
    if (this.#state === "failed" || this.#state === "closed") throw error;
    // A broken transport after our client certificate: the server's alert, if it arrived, says why.
    if (!(error instanceof TlsError) && this.#clientAuthSent) error = (await this.#alertAlreadyReceived()) ?? this.#explainEarlyClose(error);
    this.#state = "failed";
    this.#failure = error;
    let alert: number | undefined;
    // Our own protocol failures carry their alert; anything else (a bug, a provider fault, a broken
    // transport) is internal_error, sent best effort: on a dead transport the write just fails.
    if (error instanceof TlsError) alert = error.alert;
    else alert = AlertDescription.internal_error;
    if (alert !== undefined) {
      const send = this.#serialized(() => this.#records.write(ContentType.alert, Uint8Array.of(AlertLevel.fatal, alert)));
      try {
        await withTimeout(this.#platform, send, 2000, () => new TimeoutError("alert send timed out"));
      } catch {
        // Best effort: the peer may be gone already.
      }
    }
    this.#platform.log("warn", "tls", `${this.#cfg.serverName}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    await this.#closeTransport();
    throw error;
  }

  async #closeTransport(): Promise<void> {
    try {
      await this.#transport.close();
    } catch {
      // Already closed or broken.
    }
  }

  /** Runs `operation` after every earlier write-side operation (records must not interleave). */
  #serialized<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#writeChain.then(operation);
    this.#writeChain = result.catch(() => undefined);
    return result;
  }

  // ---- reading ----

  #alertError(content: Uint8Array, during: string): TlsError {
    if (content.length !== 2) return new TlsDecodeError(`alert record of ${content.length} bytes (an alert is 2 bytes)`);
    const level = content[0]!;
    const description = content[1]!;
    if (level !== AlertLevel.warning && level !== AlertLevel.fatal) return new TlsIllegalParameterError(`alert with unknown level ${level}`);
    const note = description === AlertDescription.certificate_required || description === AlertDescription.bad_certificate ? this.#clientAuthNote : undefined;
    return new TlsAlertError(description, level, [during, note].filter((s) => s).join("; "));
  }

  /** Words that make a handshake alert actionable: when it came and what it usually means. */
  #handshakeAlertContext(description: number | undefined): string {
    if (this.#suite !== undefined) return "during the handshake";
    const hint =
      description === AlertDescription.protocol_version
        ? " (the server does not accept TLS 1.3)"
        : description === AlertDescription.handshake_failure || description === AlertDescription.insufficient_security
          ? " (no cipher suite, group or signature algorithm in common)"
          : "";
    return `in answer to our ClientHello${hint}`;
  }

  /** The next handshake message during the handshake; alerts and application data here are errors. */
  async #nextHandshakeMessage(): Promise<HandshakeMessage> {
    for (;;) {
      const message = this.#assembler.next();
      if (message) return message;
      const record = await this.#records.read();
      if (record === null) throw new TlsClosedError(`${this.#cfg.serverName} closed the connection during the handshake`);
      if (record.type === ContentType.handshake) {
        this.#assembler.push(record.content);
      } else if (record.type === ContentType.alert) {
        throw this.#alertError(record.content, this.#handshakeAlertContext(record.content[1]));
      } else {
        throw new TlsUnexpectedMessageError(`${record.type === ContentType.application_data ? "application data" : `record type ${record.type}`} during the handshake`);
      }
    }
  }

  async #expect(type: number): Promise<HandshakeMessage> {
    const message = await this.#nextHandshakeMessage();
    if (message.type !== type) throw new TlsUnexpectedMessageError(`expected ${handshakeName(type)}, received ${handshakeName(message.type)}`);
    return message;
  }

  /** Handles one record after the handshake; returns application data, or null at close_notify. */
  async #readRecordPostHandshake(): Promise<Uint8Array | null> {
    const record = await this.#records.read();
    if (record === null) {
      throw new TlsClosedError(`${this.#cfg.serverName} closed the connection without close_notify (possible truncation)`);
    }
    if (record.type === ContentType.application_data) {
      if (!this.#assembler.empty) throw new TlsUnexpectedMessageError("application data in the middle of a fragmented handshake message");
      this.#applicationDataReceived = true;
      return record.content;
    }
    if (record.type === ContentType.alert) {
      if (record.content.length === 2 && record.content[1] === AlertDescription.close_notify) {
        this.#peerClosed = true;
        return null;
      }
      if (record.content.length === 2 && record.content[1] === AlertDescription.user_canceled) {
        this.#platform.log("info", "tls", `${this.#cfg.serverName}: server sent user_canceled`);
        return new Uint8Array(0);
      }
      throw this.#alertError(record.content, "");
    }
    // Handshake record: post-handshake messages.
    this.#assembler.push(record.content);
    for (let message = this.#assembler.next(); message; message = this.#assembler.next()) {
      await this.#postHandshakeMessage(message);
    }
    return new Uint8Array(0);
  }

  async #postHandshakeMessage(message: HandshakeMessage): Promise<void> {
    switch (message.type) {
      case HandshakeType.new_session_ticket:
        this.#storeTicket(message.body);
        return;
      case HandshakeType.key_update: {
        const updateRequested = parseKeyUpdate(message.body);
        // A key change must fall on a record boundary (RFC 8446 §5.1).
        if (!this.#assembler.empty) throw new TlsUnexpectedMessageError("KeyUpdate is not the last message in its record");
        const suite = this.#suite!;
        this.#serverTrafficSecret = nextTrafficSecret(this.#provider, suite.hash, this.#serverTrafficSecret!);
        this.#records.setReadProtection(suite, trafficKeys(this.#provider, suite, this.#serverTrafficSecret));
        this.stats.keyUpdatesReceived++;
        if (updateRequested && !this.#closeNotifySent) await this.#serialized(() => this.#sendKeyUpdate(false));
        return;
      }
      case HandshakeType.certificate_request:
        throw new TlsUnexpectedMessageError("post-handshake CertificateRequest, but post_handshake_auth was not offered");
      default:
        throw new TlsUnexpectedMessageError(`${handshakeName(message.type)} after the handshake`);
    }
  }

  async #sendKeyUpdate(requestPeerUpdate: boolean): Promise<void> {
    const suite = this.#suite!;
    await this.#records.write(ContentType.handshake, encodeKeyUpdate(requestPeerUpdate));
    this.#clientTrafficSecret = nextTrafficSecret(this.#provider, suite.hash, this.#clientTrafficSecret!);
    this.#records.setWriteProtection(suite, trafficKeys(this.#provider, suite, this.#clientTrafficSecret));
    this.stats.keyUpdatesSent++;
  }

  #storeTicket(body: Uint8Array): void {
    const nst = parseNewSessionTicket(body);
    let maxEarlyDataSize: number | undefined;
    for (const ext of nst.extensions) {
      if (ext.type === ExtensionType.early_data) {
        if (ext.data.length !== 4) throw new TlsDecodeError(`NewSessionTicket early_data extension of ${ext.data.length} bytes`);
        maxEarlyDataSize = ((ext.data[0]! << 24) >>> 0) + (ext.data[1]! << 16) + (ext.data[2]! << 8) + ext.data[3]!;
      }
      // Other extensions are ignored, as RFC 8446 §4.6.1 requires of clients.
    }
    const suite = this.#suite!;
    this.stats.ticketsReceived++;
    if (this.#cfg.maxTickets <= 0) return;
    const ticket: SessionTicket = {
      ticket: nst.ticket.slice(),
      lifetimeSeconds: nst.lifetimeSeconds,
      ageAdd: nst.ageAdd,
      nonce: nst.nonce.slice(),
      psk: resumptionPsk(this.#provider, suite.hash, this.#resumptionSecret!, nst.nonce),
      cipherSuite: suite.code,
      serverName: this.#cfg.serverName,
      alpn: this.#info?.alpn,
      receivedAt: this.#platform.now(),
      maxEarlyDataSize,
      serverCertificate: this.#info!.serverCertificate,
    };
    this.#tickets = [ticket, ...this.#tickets].slice(0, this.#cfg.maxTickets);
  }

  // ---- the handshake ----

  async #runHandshake(): Promise<void> {
    const ms = this.#cfg.handshakeTimeoutMs;
    const handshake = this.#handshake();
    handshake.catch(() => undefined); // after a timeout its own failure is of no interest
    try {
      await withTimeout(this.#platform, handshake, ms, () => new TlsTimeoutError(`TLS handshake with ${this.#cfg.serverName} did not complete within ${ms} ms`));
    } catch (error) {
      await this.#abort(error);
    } finally {
      this.#trustStore = undefined;
    }
  }

  #generateKeyShare(group: number): { entry: KeyShareEntry; pair: EcdhKeyPair } {
    const name = GROUPS[group]!.name;
    const pair = this.#provider.ecdhKeyPair(name, (n) => this.#platform.randomBytes(n));
    return { entry: { group, keyExchange: pair.publicKey }, pair };
  }

  /** Rejects extensions in a ServerHello-like message: not offered → unsupported_extension; offered but not allowed here → illegal_parameter. */
  #checkServerExtensions(extensions: readonly Extension[], allowed: Set<number>, offered: Set<number>, where: string): void {
    for (const ext of extensions) {
      if (!offered.has(ext.type)) throw new TlsUnsupportedExtensionError(`${where} carries ${extensionName(ext.type)}, which we did not offer`);
      if (!allowed.has(ext.type)) throw new TlsIllegalParameterError(`${where} carries ${extensionName(ext.type)}, which is not allowed there`);
    }
  }

  /** Version negotiation and the downgrade sentinels (RFC 8446 §4.1.3, §4.2.1). */
  #checkVersion(sh: ServerHello): void {
    const supportedVersions = findExtension(sh.extensions, ExtensionType.supported_versions);
    if (!supportedVersions) {
      if (tail8Equals(sh.random, DOWNGRADE_TLS12) || tail8Equals(sh.random, DOWNGRADE_TLS11)) {
        throw new TlsDowngradeError(
          `server random carries the downgrade sentinel while selecting ${versionName(sh.legacyVersion)}: a TLS 1.3 server was steered to an older version (possible downgrade attack)`,
        );
      }
      throw new TlsProtocolVersionError(`${this.#cfg.serverName} does not support TLS 1.3 (it selected ${versionName(sh.legacyVersion)})`);
    }
    const selected = parseSelectedVersion(supportedVersions.data);
    if (selected !== TLS13_VERSION) throw new TlsIllegalParameterError(`server selected ${versionName(selected)} in supported_versions, which we did not offer`);
    if (sh.legacyVersion !== TLS12_VERSION) throw new TlsIllegalParameterError(`ServerHello legacy_version is 0x${sh.legacyVersion.toString(16)}, must be 0x0303`);
  }

  async #handshake(): Promise<void> {
    const cfg = this.#cfg;
    const provider = this.#provider;
    const platform = this.#platform;
    const records = this.#records;
    const started = platform.now();
    const stats: TlsHandshakeStats = {
      bytesSent: 0,
      bytesReceived: 0,
      recordsSent: 0,
      recordsReceived: 0,
      totalMs: 0,
      serverHelloMs: 0,
      keyExchangeMs: 0,
      serverAuthMs: 0,
      credentialMs: 0,
    };
    const transcript = new Transcript(provider);

    // ---- ClientHello ----
    let t = platform.now();
    const shares = new Map<number, EcdhKeyPair>();
    const keyShares: KeyShareEntry[] = [];
    for (const group of cfg.keyShareGroups) {
      const { entry, pair } = this.#generateKeyShare(group);
      shares.set(group, pair);
      keyShares.push(entry);
    }
    stats.keyExchangeMs += platform.now() - t;
    const sessionId = cfg.middlebox ? platform.randomBytes(32) : new Uint8Array(0);
    const helloParams: ClientHelloParams = {
      random: platform.randomBytes(32),
      sessionId,
      cipherSuites: cfg.cipherSuites,
      ...(cfg.sniName !== undefined ? { serverName: cfg.sniName } : {}),
      groups: cfg.groups,
      keyShares,
      signatureAlgorithms: cfg.signatureAlgorithms,
      signatureAlgorithmsCert: cfg.signatureAlgorithmsCert,
      ...(this.#options.alpn && this.#options.alpn.length > 0 ? { alpn: this.#options.alpn } : {}),
      recordSizeLimit: cfg.recordSizeLimit,
      ...(cfg.maxFragmentCode !== undefined ? { maxFragmentLength: cfg.maxFragmentCode } : {}),
      pskModes: [PSK_DHE_KE],
    };
    let resumption = this.#resumptionOffer();
    if (resumption) helloParams.psk = this.#pskIdentity(resumption);
    const offered = new Set<number>([
      ExtensionType.supported_groups,
      ExtensionType.signature_algorithms,
      ExtensionType.signature_algorithms_cert,
      ExtensionType.record_size_limit,
      ExtensionType.supported_versions,
      ExtensionType.psk_key_exchange_modes,
      ExtensionType.key_share,
    ]);
    if (helloParams.serverName !== undefined) offered.add(ExtensionType.server_name);
    if (helloParams.alpn) offered.add(ExtensionType.application_layer_protocol_negotiation);
    if (helloParams.maxFragmentLength !== undefined) offered.add(ExtensionType.max_fragment_length);
    if (resumption) offered.add(ExtensionType.pre_shared_key);

    const clientHello1 = this.#bindPsk(encodeClientHello(helloParams), resumption, transcript);
    transcript.add(clientHello1);
    await records.write(ContentType.handshake, clientHello1);
    records.plaintextVersion = 0x0303;
    records.allowChangeCipherSpec = true;
    let ccsSent = false;

    // ---- ServerHello, or HelloRetryRequest then ServerHello ----
    let message = await this.#expect(HandshakeType.server_hello);
    let sh = parseServerHello(message.body);
    this.#checkVersion(sh);
    let helloRetry: { cipherSuite: number } | undefined;
    if (bytesEqual(sh.random, HELLO_RETRY_REQUEST_RANDOM)) {
      this.#checkHelloCommon(sh, sessionId, "HelloRetryRequest");
      this.#checkServerExtensions(sh.extensions, HRR_EXTENSIONS, new Set([...offered, ExtensionType.cookie]), "HelloRetryRequest");
      const keyShareExt = findExtension(sh.extensions, ExtensionType.key_share);
      const cookieExt = findExtension(sh.extensions, ExtensionType.cookie);
      if (!keyShareExt && !cookieExt) throw new TlsIllegalParameterError("HelloRetryRequest asks for no change (neither key_share nor cookie)");
      if (!this.#assembler.empty) throw new TlsUnexpectedMessageError("HelloRetryRequest is followed by more handshake data in its record");
      const suite = CIPHER_SUITES[sh.cipherSuite]!;
      transcript.replaceWithMessageHash(suite.hash);
      transcript.add(message.raw);
      let newShares = keyShares;
      if (keyShareExt) {
        const selected = parseSelectedGroup(keyShareExt.data);
        if (cfg.groups.indexOf(selected) < 0) throw new TlsIllegalParameterError(`HelloRetryRequest selected ${groupName(selected)}, which is not in our supported_groups`);
        if (shares.has(selected)) throw new TlsIllegalParameterError(`HelloRetryRequest selected ${groupName(selected)}, for which we already sent a key share`);
        t = platform.now();
        const { entry, pair } = this.#generateKeyShare(selected);
        stats.keyExchangeMs += platform.now() - t;
        shares.clear();
        shares.set(selected, pair);
        newShares = [entry];
      }
      // The PSK stays offered only if its hash is the one the server's suite uses (RFC 8446 §4.1.2);
      // its age and binder are computed afresh, the binder now covering ClientHello1's hash and the HRR.
      if (resumption && resumption.suite.hash !== suite.hash) {
        resumption = undefined;
        offered.delete(ExtensionType.pre_shared_key);
      }
      const { psk: _firstPsk, ...withoutPsk } = helloParams;
      const clientHello2 = this.#bindPsk(
        encodeClientHello({
          ...withoutPsk,
          keyShares: newShares,
          ...(cookieExt ? { cookie: parseCookie(cookieExt.data) } : {}),
          ...(resumption ? { psk: this.#pskIdentity(resumption) } : {}),
        }),
        resumption,
        transcript,
      );
      transcript.add(clientHello2);
      if (cfg.middlebox) {
        await records.writeChangeCipherSpec();
        ccsSent = true;
      }
      await records.write(ContentType.handshake, clientHello2);
      helloRetry = { cipherSuite: sh.cipherSuite };

      message = await this.#nextHandshakeMessage();
      if (message.type !== HandshakeType.server_hello) throw new TlsUnexpectedMessageError(`expected server_hello after HelloRetryRequest, received ${handshakeName(message.type)}`);
      sh = parseServerHello(message.body);
      this.#checkVersion(sh);
      if (bytesEqual(sh.random, HELLO_RETRY_REQUEST_RANDOM)) throw new TlsUnexpectedMessageError("second HelloRetryRequest in one handshake");
      if (sh.cipherSuite !== helloRetry.cipherSuite) {
        throw new TlsIllegalParameterError(`ServerHello cipher suite 0x${sh.cipherSuite.toString(16)} differs from the HelloRetryRequest's 0x${helloRetry.cipherSuite.toString(16)}`);
      }
    }
    stats.serverHelloMs = platform.now() - started;
    this.#checkHelloCommon(sh, sessionId, "ServerHello");
    this.#checkServerExtensions(sh.extensions, SERVER_HELLO_EXTENSIONS, offered, "ServerHello");
    const suite = CIPHER_SUITES[sh.cipherSuite]!;
    this.#suite = suite;
    const pskExt = findExtension(sh.extensions, ExtensionType.pre_shared_key);
    let resumedPsk: Uint8Array | undefined;
    let resumedFrom: SessionTicket | undefined;
    if (pskExt && resumption) {
      const selected = parseSelectedIdentity(pskExt.data);
      if (selected !== 0) throw new TlsIllegalParameterError(`ServerHello selected PSK identity ${selected}; we offered one (index 0)`);
      if (suite.hash !== resumption.suite.hash) throw new TlsIllegalParameterError(`ServerHello resumes with ${suite.name}, whose hash is not the ticket's ${resumption.suite.hash}`);
      resumedPsk = resumption.ticket.psk;
      resumedFrom = resumption.ticket;
    }
    resumption = undefined;
    const keyShareExt = findExtension(sh.extensions, ExtensionType.key_share);
    if (!keyShareExt) throw new TlsHandshakeFailureError("ServerHello has no key_share (PSK-only modes are not offered)", AlertDescription.missing_extension);
    const serverShare = parseServerKeyShare(keyShareExt.data);
    const myPair = shares.get(serverShare.group);
    if (!myPair) throw new TlsIllegalParameterError(`server key share is for ${groupName(serverShare.group)}, for which we sent no share`);
    t = platform.now();
    let sharedSecret: Uint8Array;
    try {
      sharedSecret = provider.ecdhSharedSecret(myPair.group, myPair.privateKey, serverShare.keyExchange);
    } catch (error) {
      if (error instanceof CryptoError) throw new TlsIllegalParameterError(`server ${groupName(serverShare.group)} key share is invalid: ${error.message}`);
      throw error;
    }
    stats.keyExchangeMs += platform.now() - t;
    shares.clear();
    transcript.start(suite.hash);
    transcript.add(message.raw);
    if (!this.#assembler.empty) throw new TlsUnexpectedMessageError("ServerHello does not end its record (handshake messages must not span a key change)");

    const schedule = new KeySchedule(provider, suite.hash, resumedPsk);
    const hs = schedule.handshake(sharedSecret, transcript.hash());
    sharedSecret.fill(0);
    records.setReadProtection(suite, trafficKeys(provider, suite, hs.serverHandshakeTrafficSecret));
    // From here every record we send (but change_cipher_spec) is protected, alerts included.
    records.setWriteProtection(suite, trafficKeys(provider, suite, hs.clientHandshakeTrafficSecret));

    // ---- EncryptedExtensions ----
    message = await this.#expect(HandshakeType.encrypted_extensions);
    const negotiated = this.#processEncryptedExtensions(parseEncryptedExtensions(message.body), offered);
    transcript.add(message.raw);

    // ---- resumed: straight to Finished; else CertificateRequest? Certificate CertificateVerify ----
    let certificateRequest: { context: Uint8Array; schemes: number[] } | undefined;
    let serverCertificate: ServerCertificateSummary;
    let serverSignatureScheme: number | undefined;
    if (resumedFrom) {
      // A server that authenticates with a PSK sends no CertificateRequest (RFC 8446 §4.3.2): #expect
      // below answers anything but Finished with unexpected_message.
      serverCertificate = resumedFrom.serverCertificate;
    } else {
      const full = await this.#serverAuthentication(transcript, cfg.signatureAlgorithms, stats);
      certificateRequest = full.certificateRequest;
      serverCertificate = full.serverCertificate;
      serverSignatureScheme = full.signatureScheme;
    }

    // ---- server Finished ----
    message = await this.#expect(HandshakeType.finished);
    const expectedFinished = finishedVerifyData(provider, suite.hash, hs.serverHandshakeTrafficSecret, transcript.hash());
    if (!constantTimeEqual(parseFinished(message.body, suite.hashLength), expectedFinished)) {
      throw new TlsVerificationError("server Finished does not verify: the handshake transcript or keys differ (tampering or a key schedule mismatch)");
    }
    transcript.add(message.raw);
    if (!this.#assembler.empty) throw new TlsUnexpectedMessageError("server Finished does not end its record (handshake messages must not span a key change)");
    const app = schedule.application(transcript.hash());
    this.#serverTrafficSecret = app.serverApplicationTrafficSecret;
    this.#clientTrafficSecret = app.clientApplicationTrafficSecret;
    records.setReadProtection(suite, trafficKeys(provider, suite, app.serverApplicationTrafficSecret));
    records.allowChangeCipherSpec = false;

    // ---- our second flight: [change_cipher_spec] [Certificate, CertificateVerify] Finished ----
    if (cfg.middlebox && !ccsSent) await records.writeChangeCipherSpec();
    let clientSignatureScheme: number | undefined;
    if (certificateRequest) {
      clientSignatureScheme = await this.#sendClientCertificate(certificateRequest, transcript, stats);
      this.#clientAuthSent = clientSignatureScheme !== undefined;
    }
    const clientFinished = encodeFinished(finishedVerifyData(provider, suite.hash, hs.clientHandshakeTrafficSecret, transcript.hash()));
    transcript.add(clientFinished);
    await records.write(ContentType.handshake, clientFinished);
    this.#resumptionSecret = schedule.resumption(transcript.hash());
    records.setWriteProtection(suite, trafficKeys(provider, suite, app.clientApplicationTrafficSecret));

    this.#info = {
      version: "TLSv1.3",
      cipherSuite: suite.name,
      cipherSuiteCode: suite.code,
      group: groupName(serverShare.group),
      alpn: negotiated.alpn,
      helloRetryRequest: helloRetry !== undefined,
      resumed: resumedFrom !== undefined,
      serverCertificate,
      serverSignatureScheme: serverSignatureScheme !== undefined ? signatureSchemeName(serverSignatureScheme) : undefined,
      clientCertificateRequested: certificateRequest !== undefined,
      clientSignatureScheme: clientSignatureScheme !== undefined ? signatureSchemeName(clientSignatureScheme) : undefined,
      peerRecordSizeLimit: negotiated.peerRecordSizeLimit,
      maxFragmentLength: negotiated.maxFragmentLength,
      receiveLimit: records.maxReceiveContent,
      sendLimit: records.maxSendContent,
    };
    const counters = records.counters;
    stats.bytesSent = counters.bytesSent;
    stats.bytesReceived = counters.bytesReceived;
    stats.recordsSent = counters.recordsSent;
    stats.recordsReceived = counters.recordsReceived;
    stats.totalMs = platform.now() - started;
    this.stats.handshake = stats;
    this.#state = "connected";
    platform.log(
      "info",
      "tls",
      `${cfg.serverName}: ${suite.name}, ${groupName(serverShare.group)}${helloRetry ? " (after HelloRetryRequest)" : ""}, ${resumedFrom ? "resumed, " : ""}server "${serverCertificate.label}"` +
        `${certificateRequest ? `, client auth ${clientSignatureScheme !== undefined ? signatureSchemeName(clientSignatureScheme) : "declined (no usable credential)"}` : ""}, ${stats.totalMs.toFixed(0)} ms`,
    );
  }

  /**
   * The full handshake's server authentication, after EncryptedExtensions: an optional
   * CertificateRequest, the Certificate (chain authenticated) and CertificateVerify (checked over the
   * transcript). In its own frame, so nothing parsed here outlives it.
   */
  async #serverAuthentication(
    transcript: Transcript,
    signatureAlgorithms: readonly number[],
    stats: TlsHandshakeStats,
  ): Promise<{ certificateRequest: { context: Uint8Array; schemes: number[] } | undefined; serverCertificate: ServerCertificateSummary; signatureScheme: number }> {
    const platform = this.#platform;
    let message = await this.#nextHandshakeMessage();
    let certificateRequest: { context: Uint8Array; schemes: number[] } | undefined;
    if (message.type === HandshakeType.certificate_request) {
      const cr = parseCertificateRequest(message.body);
      if (cr.context.length !== 0) throw new TlsIllegalParameterError("CertificateRequest in the handshake has a non-empty certificate_request_context");
      const sigAlgs = findExtension(cr.extensions, ExtensionType.signature_algorithms);
      if (!sigAlgs) throw new TlsHandshakeFailureError("CertificateRequest lacks signature_algorithms", AlertDescription.missing_extension);
      // Other extensions (certificate_authorities, oid_filters, unknown ones) are ignored (RFC 8446 §4.3.2).
      certificateRequest = { context: cr.context, schemes: parseSignatureAlgorithms(sigAlgs.data, "CertificateRequest signature_algorithms") };
      transcript.add(message.raw);
      message = await this.#nextHandshakeMessage();
    }
    if (message.type !== HandshakeType.certificate) {
      throw new TlsUnexpectedMessageError(`expected certificate${certificateRequest ? "" : " or certificate_request"}, received ${handshakeName(message.type)}`);
    }
    let t = platform.now();
    const server = this.#authenticateServer(message.body);
    stats.serverAuthMs += platform.now() - t;
    transcript.add(message.raw);

    message = await this.#expect(HandshakeType.certificate_verify);
    const cv = parseCertificateVerify(message.body);
    t = platform.now();
    verifyServerSignature(this.#provider, signatureAlgorithms, server.key, cv.scheme, cv.signature, transcript.hash());
    stats.serverAuthMs += platform.now() - t;
    transcript.add(message.raw);
    return { certificateRequest, serverCertificate: server.summary, signatureScheme: cv.scheme };
  }

  /** The resumption ticket to offer, if the options hold one that may be used with this server now. */
  #resumptionOffer(): { ticket: SessionTicket; suite: CipherSuiteInfo } | undefined {
    const ticket = this.#options.resumption;
    if (!ticket) return undefined;
    const cfg = this.#cfg;
    const suite = CIPHER_SUITES[ticket.cipherSuite];
    const ageMs = this.#platform.now() - ticket.receivedAt;
    const lifetimeMs = Math.min(ticket.lifetimeSeconds, MAX_TICKET_LIFETIME_SECONDS) * 1000;
    let why: string | undefined;
    if (!suite || cfg.cipherSuites.indexOf(ticket.cipherSuite) < 0) why = `its cipher suite 0x${ticket.cipherSuite.toString(16)} is not offered`;
    else if (ticket.serverName !== cfg.serverName) why = `it was issued for ${ticket.serverName}`;
    else if (!(ageMs >= 0 && ageMs < lifetimeMs)) why = `it expired (age ${Math.round(ageMs / 1000)} s, lifetime ${Math.round(lifetimeMs / 1000)} s)`;
    else if (ticket.psk.length !== suite.hashLength || ticket.ticket.length === 0) why = "it is malformed";
    if (why !== undefined || !suite) {
      this.#platform.log("info", "tls", `${cfg.serverName}: not offering the session ticket: ${why}`);
      return undefined;
    }
    return { ticket, suite };
  }

  /** The PskIdentity of a ticket now: its obfuscated age is the age in ms plus ticket_age_add, mod 2^32. */
  #pskIdentity(offer: { ticket: SessionTicket; suite: CipherSuiteInfo }): { identity: Uint8Array; obfuscatedTicketAge: number; binderLength: number } {
    const ageMs = Math.floor(this.#platform.now() - offer.ticket.receivedAt);
    return { identity: offer.ticket.ticket, obfuscatedTicketAge: (ageMs + offer.ticket.ageAdd) % 2 ** 32, binderLength: offer.suite.hashLength };
  }

  /**
   * Writes the PSK binder into an encoded ClientHello (its last hashLength bytes): HMAC under the
   * binder key's finished key over the transcript so far plus the ClientHello up to its binders
   * (RFC 8446 §4.2.11.2). Without an offer the ClientHello is returned as it is.
   */
  #bindPsk(clientHello: Uint8Array, offer: { ticket: SessionTicket; suite: CipherSuiteInfo } | undefined, transcript: Transcript): Uint8Array {
    if (!offer) return clientHello;
    const { hash, hashLength } = offer.suite;
    const partial = clientHello.subarray(0, clientHello.length - pskBindersLength(hashLength));
    const binderKey = new KeySchedule(this.#provider, hash, offer.ticket.psk).binderKey();
    clientHello.set(finishedVerifyData(this.#provider, hash, binderKey, transcript.hashWith(hash, partial)), clientHello.length - hashLength);
    return clientHello;
  }

  /**
   * The server's Certificate message, checked and its chain authenticated. Returns only the leaf's
   * key and a summary: the parsed chain becomes garbage here, before the slow part of the handshake
   * (our signature in the SIM), instead of living in the handshake's frame until it ends.
   */
  #authenticateServer(body: Uint8Array): { key: PublicKey | undefined; summary: ServerCertificateSummary } {
    const certMessage = parseCertificate(body);
    if (certMessage.context.length !== 0) throw new TlsIllegalParameterError("server Certificate has a non-empty certificate_request_context");
    if (certMessage.entries.length === 0) throw new TlsDecodeError("server sent an empty Certificate message");
    for (const entry of certMessage.entries) {
      const ext = entry.extensions[0];
      if (ext) throw new TlsUnsupportedExtensionError(`server CertificateEntry carries ${extensionName(ext.type)}, which we did not request`);
    }
    const cfg = this.#cfg;
    const trustStore = this.#trustStore;
    if (!trustStore) throw new TlsError("server authentication after the handshake ended");
    const { leaf } = authenticateServerChain(
      certMessage.entries.map((e) => e.certificate),
      { provider: this.#provider, trustStore, time: cfg.clock(), serverName: cfg.serverName, ...(this.#options.pins ? { pins: this.#options.pins } : {}) },
    );
    return {
      key: leaf.subjectPublicKeyInfo.key,
      summary: { commonName: leaf.subject.commonName, subject: leaf.subject.text, issuer: leaf.issuer.text, notAfter: leaf.notAfter, label: certificateLabel(leaf) },
    };
  }

  /** Fields every ServerHello and HelloRetryRequest must get right (RFC 8446 §4.1.3). */
  #checkHelloCommon(sh: ServerHello, sessionId: Uint8Array, where: string): void {
    if (!bytesEqual(sh.sessionIdEcho, sessionId)) throw new TlsIllegalParameterError(`${where} legacy_session_id_echo ${toHex(sh.sessionIdEcho)} does not echo ours`);
    if (sh.compressionMethod !== 0) throw new TlsIllegalParameterError(`${where} selected compression method ${sh.compressionMethod}`);
    if (this.#cfg.cipherSuites.indexOf(sh.cipherSuite) < 0) {
      throw new TlsIllegalParameterError(`${where} selected cipher suite 0x${sh.cipherSuite.toString(16).padStart(4, "0")}, which we did not offer`);
    }
  }

  #processEncryptedExtensions(
    extensions: Extension[],
    offered: Set<number>,
  ): { alpn: string | undefined; peerRecordSizeLimit: number | undefined; maxFragmentLength: number | undefined } {
    this.#checkServerExtensions(extensions, ENCRYPTED_EXTENSIONS, offered, "EncryptedExtensions");
    const records = this.#records;
    let alpn: string | undefined;
    let peerRecordSizeLimit: number | undefined;
    let maxFragmentLength: number | undefined;
    for (const ext of extensions) {
      switch (ext.type) {
        case ExtensionType.server_name:
          checkEmptyExtension(ext, "EncryptedExtensions");
          break;
        case ExtensionType.supported_groups:
          // The server's preferences, for later connections; nothing to do now.
          break;
        case ExtensionType.application_layer_protocol_negotiation: {
          const selected = parseSelectedAlpn(ext.data);
          if ((this.#options.alpn ?? []).indexOf(selected) < 0) throw new TlsIllegalParameterError(`server selected ALPN protocol "${selected}", which we did not offer`);
          alpn = selected;
          break;
        }
        case ExtensionType.record_size_limit: {
          const limit = parseRecordSizeLimit(ext.data);
          if (limit < MIN_RECORD_SIZE_LIMIT) throw new TlsIllegalParameterError(`server record_size_limit ${limit} is below the minimum of ${MIN_RECORD_SIZE_LIMIT}`);
          peerRecordSizeLimit = limit;
          break;
        }
        case ExtensionType.max_fragment_length: {
          const code = parseMaxFragmentLength(ext.data);
          if (code !== this.#cfg.maxFragmentCode) throw new TlsIllegalParameterError(`server max_fragment_length ${code} differs from ours (${this.#cfg.maxFragmentCode})`);
          maxFragmentLength = 2 ** (8 + code);
          break;
        }
        default:
          // Offered and allowed but not meaningful to us: cannot happen with what we offer.
          throw new TlsIllegalParameterError(`EncryptedExtensions carries ${extensionName(ext.type)}, which this client does not handle`);
      }
    }
    if (peerRecordSizeLimit !== undefined && maxFragmentLength !== undefined) {
      throw new TlsIllegalParameterError("server negotiated both record_size_limit and max_fragment_length (RFC 8449 §5)");
    }
    // What we receive: our advertised limit (content + type byte) if the server honours it; the
    // max_fragment_length size if that was negotiated instead; else whatever TLS allows.
    if (peerRecordSizeLimit !== undefined) {
      records.maxReceiveContent = this.#cfg.recordSizeLimit - 1;
      records.maxSendContent = Math.min(peerRecordSizeLimit - 1, this.#cfg.recordSizeLimit - 1);
    } else if (maxFragmentLength !== undefined) {
      records.maxReceiveContent = maxFragmentLength;
      records.maxSendContent = maxFragmentLength;
    } else {
      records.maxReceiveContent = MAX_PLAINTEXT;
      records.maxSendContent = Math.min(MAX_PLAINTEXT, this.#cfg.recordSizeLimit - 1);
    }
    return { alpn, peerRecordSizeLimit, maxFragmentLength };
  }

  /** Certificate (+ CertificateVerify) from the credential; returns the scheme used, if any. */
  async #sendClientCertificate(
    request: { context: Uint8Array; schemes: number[] },
    transcript: Transcript,
    stats: TlsHandshakeStats,
  ): Promise<number | undefined> {
    const credential = this.#options.credential;
    const records = this.#records;
    const scheme = credential?.schemes.find((s) => request.schemes.indexOf(s) >= 0);
    let chain: Uint8Array[] = [];
    if (!credential) {
      this.#clientAuthNote = "the server asked for a client certificate and no credential is configured";
    } else if (scheme === undefined) {
      this.#clientAuthNote = `the server accepts none of the credential's signature schemes (server: ${request.schemes.map(signatureSchemeName).join(", ")}; credential: ${credential.schemes.map(signatureSchemeName).join(", ")})`;
    } else {
      const t = this.#platform.now();
      try {
        chain = await credential.certificateChain();
      } catch (error) {
        throw new TlsCredentialError(`client credential could not provide its certificate chain: ${error instanceof Error ? error.message : String(error)}`, error);
      }
      stats.credentialMs += this.#platform.now() - t;
      if (chain.length === 0) this.#clientAuthNote = "the client credential has an empty certificate chain";
    }
    if (this.#clientAuthNote) this.#platform.log("warn", "tls", `${this.#cfg.serverName}: sending no client certificate: ${this.#clientAuthNote}`);
    const certificate = encodeCertificate(request.context, chain);
    transcript.add(certificate);
    await records.write(ContentType.handshake, certificate);
    if (chain.length === 0 || !credential || scheme === undefined) return undefined;

    const hashName = SCHEME_HASH[scheme];
    if (!hashName) throw new TlsCredentialError(`credential scheme ${signatureSchemeName(scheme)} is not an ECDSA scheme this client can drive`);
    const digest = this.#provider.hash(hashName, certificateVerifyContent("client", transcript.hash()));
    const t = this.#platform.now();
    let signature: Uint8Array;
    try {
      signature = await credential.sign(scheme, digest);
    } catch (error) {
      throw new TlsCredentialError(`client credential failed to sign (${signatureSchemeName(scheme)}): ${error instanceof Error ? error.message : String(error)}`, error);
    }
    stats.credentialMs += this.#platform.now() - t;
    if (!(signature instanceof Uint8Array) || signature.length === 0) throw new TlsCredentialError("client credential returned an empty signature");
    const certificateVerify = encodeCertificateVerify(scheme, signature);
    transcript.add(certificateVerify);
    await records.write(ContentType.handshake, certificateVerify);
    return scheme;
  }
}

/** Hash of each client signing scheme: the credential signs a digest, not the message. */
const SCHEME_HASH: Record<number, "sha256" | "sha384" | "sha512"> = {
  0x0403: "sha256",
  0x0503: "sha384",
  0x0804: "sha256",
  0x0805: "sha384",
  0x0806: "sha512",
};
