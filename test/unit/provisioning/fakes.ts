/**
 * Fakes for the provisioning state machine's unit tests (portable: they run in Node and inside XS).
 *
 * - PowerSupply: every SIM operation, storage write and cloud exchange calls tick() before and after
 *   it acts; a test picks the tick at which the power fails (PowerCut is thrown, and everything
 *   after it fails too until restore()), which models a cut between any two effects.
 * - FakeSim: an IoT SAFE store with real P-256 keys (noble), deterministic key generation.
 * - Portable certificate issuing (DER writer + noble), so nothing here needs openssl or node:crypto.
 * - FakeFleetCloud: the fleet-provisioning API (CreateCertificateFromCsr, RegisterThing) behind an
 *   MQTT-shaped connection, with the refusals and bad answers the tests need.
 */
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, bytesToUtf8, concatBytes, toHex, uintToBytesBE, utf8ToBytes } from "../../../modules/bytes/bytes.js";
import {
  children,
  decodeBitStringBytes,
  decodeOid,
  decodeOne,
  DerReader,
  encodeBitString,
  encodeElement,
  encodeExplicit,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeSet,
  encodeSmallInteger,
  encodeTime,
  encodeUnsignedInteger,
  encodeUtf8String,
  TAG,
} from "../../../modules/crypto/der.js";
import { certificateToPem, decodePem, parseCertificate } from "../../../modules/crypto/x509.js";
import type { GeneratedKeyPair } from "../../../modules/iotsafe/client.js";
import { statusError } from "../../../modules/iotsafe/errors.js";
import type { ObjectRef } from "../../../modules/iotsafe/objects.js";
import type { MqttMessage } from "../../../modules/mqtt/client.js";
import { MqttConnectionLostError, MqttNotAuthorizedError, MqttSubscribeRefusedError } from "../../../modules/mqtt/errors.js";
import { MemoryStore, type KeyValueStore } from "../../../modules/platform/storage.js";
import type { ProvisioningSim } from "../../../modules/provisioning/credential.js";
import type { ProvisioningMqtt } from "../../../modules/provisioning/fleet-api.js";
import type { CloudConnector } from "../../../modules/provisioning/provisioner.js";
import { StatusWord } from "../../../modules/sim/status.js";
import type { ClientCredential } from "../../../modules/tls/credential.js";
import { TlsAlertError } from "../../../modules/tls/errors.js";

// ---- power ----

export class PowerCut extends Error {
  override name = "PowerCut";
}

export class PowerSupply {
  ticks = 0;
  cutAt: number | undefined;
  off = false;
  readonly trace: string[] = [];

  /** Called before and after every effect; throws PowerCut at the chosen tick and after it. */
  tick(label: string): void {
    if (this.off) throw new PowerCut(`power is off (${label})`);
    this.ticks++;
    this.trace.push(label);
    if (this.cutAt !== undefined && this.ticks >= this.cutAt) {
      this.off = true;
      throw new PowerCut(`power cut at tick ${this.ticks} (${label})`);
    }
  }

  restore(): void {
    this.off = false;
    this.cutAt = undefined;
  }
}

/** A MemoryStore whose writes are effects the power supply can interrupt (before or after the write). */
export class PoweredStore implements KeyValueStore {
  readonly inner = new MemoryStore();
  constructor(readonly power: PowerSupply) {}
  get(key: string): Uint8Array | undefined {
    if (this.power.off) throw new PowerCut("power is off (store get)");
    return this.inner.get(key);
  }
  set(key: string, value: Uint8Array): void {
    this.power.tick(`store set ${key} (before)`);
    this.inner.set(key, value);
    this.power.tick(`store set ${key} (after)`);
  }
  delete(key: string): void {
    this.power.tick(`store delete ${key} (before)`);
    this.inner.delete(key);
    this.power.tick(`store delete ${key} (after)`);
  }
  keys(): string[] {
    return this.inner.keys();
  }
}

// ---- keys and certificates ----

let keyCounter = 0;

/** A deterministic P-256 secret (tests must be repeatable; XS has no crypto.getRandomValues). */
export function testSecret(label: string): Uint8Array {
  return sha256(utf8ToBytes(`iotsafe-xs provisioning test key ${label} ${keyCounter++}`));
}

export function pointOf(secret: Uint8Array): Uint8Array {
  return p256.getPublicKey(secret, false);
}

const OID_CN = "2.5.4.3";
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_P256 = "1.2.840.10045.3.1.7";
const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";

function name(cn: string): Uint8Array {
  return encodeSequence(encodeSet(encodeSequence(encodeOid(OID_CN), encodeUtf8String(utf8ToBytes(cn)))));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return encodeSequence(encodeOid(oid), ...(critical ? [encodeElement(TAG.BOOLEAN, Uint8Array.of(0xff))] : []), encodeOctetString(value));
}

export interface TestCa {
  name: string;
  secret: Uint8Array;
  der: Uint8Array;
  pem: string;
}

let serial = 1;

/** An X.509 v3 certificate signed with ECDSA-SHA256 (RFC 5280 field order). */
export function issueCertificate(options: { issuer: string; signer: Uint8Array; subject: string; point: Uint8Array; notBefore: number; notAfter: number; ca: boolean }): Uint8Array {
  const extensions = options.ca
    ? [
        extension("2.5.29.19", true, encodeSequence(encodeElement(TAG.BOOLEAN, Uint8Array.of(0xff)))),
        extension("2.5.29.15", true, encodeElement(TAG.BIT_STRING, Uint8Array.of(0x01, 0x06))), // keyCertSign, cRLSign
      ]
    : [
        extension("2.5.29.19", true, encodeSequence()),
        extension("2.5.29.15", true, encodeElement(TAG.BIT_STRING, Uint8Array.of(0x07, 0x80))), // digitalSignature
        extension("2.5.29.37", false, encodeSequence(encodeOid("1.3.6.1.5.5.7.3.2"))), // clientAuth
      ];
  const tbs = encodeSequence(
    encodeExplicit(0, encodeSmallInteger(2)),
    encodeUnsignedInteger(uintToBytesBE(serial++, 4)),
    encodeSequence(encodeOid(OID_ECDSA_SHA256)),
    name(options.issuer),
    encodeSequence(encodeTime(options.notBefore), encodeTime(options.notAfter)),
    name(options.subject),
    encodeSequence(encodeSequence(encodeOid(OID_EC_PUBLIC_KEY), encodeOid(OID_P256)), encodeBitString(options.point)),
    encodeExplicit(3, encodeSequence(...extensions)),
  );
  const signature = p256.sign(sha256(tbs), options.signer, { prehash: false, format: "der" });
  return encodeSequence(tbs, encodeSequence(encodeOid(OID_ECDSA_SHA256)), encodeBitString(signature));
}

export function createTestCa(caName: string, now: number): TestCa {
  const secret = testSecret(caName);
  const der = issueCertificate({ issuer: caName, signer: secret, subject: caName, point: pointOf(secret), notBefore: now - 86_400_000, notAfter: now + 3650 * 86_400_000, ca: true });
  return { name: caName, secret, der, pem: certificateToPem(der) };
}

/** The subject CN and public key of a PKCS#10 request, after checking its signature. */
export function readCsr(der: Uint8Array): { commonName: string | undefined; serialNumber: string | undefined; point: Uint8Array; signatureValid: boolean } {
  const outer = new DerReader(decodeOne(der, TAG.SEQUENCE), "CSR");
  const info = outer.next(TAG.SEQUENCE, "info");
  outer.next(TAG.SEQUENCE, "algorithm");
  const signature = decodeBitStringBytes(outer.next(TAG.BIT_STRING, "signature").value);
  const fields = new DerReader(info, "info");
  fields.next(TAG.INTEGER, "version");
  const subject = fields.next(TAG.SEQUENCE, "subject");
  const spki = new DerReader(fields.next(TAG.SEQUENCE, "spki"), "spki");
  spki.next(TAG.SEQUENCE, "algorithm");
  const point = decodeBitStringBytes(spki.next(TAG.BIT_STRING, "key").value);
  let commonName: string | undefined;
  let serialNumber: string | undefined;
  for (const rdn of children(subject)) {
    const [type, value] = children(children(rdn)[0]!);
    const oid = decodeOid(type!.value);
    if (oid === OID_CN) commonName = bytesToUtf8(value!.value);
    if (oid === "2.5.4.5") serialNumber = bytesToUtf8(value!.value);
  }
  const signatureValid = p256.verify(signature, sha256(info.raw), point, { prehash: false, format: "der" });
  return { commonName, serialNumber, point, signatureValid };
}

// ---- the SIM ----

interface Container {
  secret: Uint8Array | undefined;
  writable: boolean;
  /** The public point of `secret`, computed once (point multiplication is slow inside XS). */
  point?: Uint8Array;
}

/** An IoT SAFE store with P-256 key containers and files; every operation is a powered effect. */
export class FakeSim implements ProvisioningSim {
  readonly keys = new Map<string, Container>();
  readonly files = new Map<string, Uint8Array>();
  readonly operations: string[] = [];
  signatures = 0;

  constructor(readonly power: PowerSupply) {}

  static id(ref: ObjectRef): string {
    return toHex(ref.id!);
  }

  #container(ref: ObjectRef, command: string): Container {
    const container = this.keys.get(FakeSim.id(ref));
    if (!container) throw statusError(command, `private key id ${FakeSim.id(ref)}`, StatusWord.of(0x6a88));
    return container;
  }

  async generateKeyPair(ref: ObjectRef): Promise<GeneratedKeyPair> {
    this.power.tick(`sim generate ${FakeSim.id(ref)} (before)`);
    const container = this.#container(ref, "GENERATE KEY PAIR");
    if (!container.writable) throw statusError("GENERATE KEY PAIR", `private key id ${FakeSim.id(ref)}`, StatusWord.of(0x6985));
    container.secret = testSecret(`sim ${FakeSim.id(ref)}`);
    container.point = pointOf(container.secret);
    this.operations.push(`generate ${FakeSim.id(ref)}`);
    this.power.tick(`sim generate ${FakeSim.id(ref)} (after)`);
    return { privateKeyId: ref.id!.slice(), publicKeyId: ref.id!.slice(), publicKey: container.point.slice() };
  }

  async readPublicKey(ref: ObjectRef): Promise<Uint8Array> {
    if (this.power.off) throw new PowerCut("power is off (sim read public key)");
    const container = this.#container(ref, "READ PUBLIC KEY");
    if (!container.secret) throw statusError("READ PUBLIC KEY", `public key id ${FakeSim.id(ref)}`, StatusWord.of(0x6985));
    container.point ??= pointOf(container.secret);
    return container.point.slice();
  }

  async signDigest(ref: ObjectRef, digest: Uint8Array): Promise<{ der: Uint8Array }> {
    if (this.power.off) throw new PowerCut("power is off (sim sign)");
    const container = this.#container(ref, "COMPUTE SIGNATURE");
    if (!container.secret) throw statusError("COMPUTE SIGNATURE INIT", `private key id ${FakeSim.id(ref)}`, StatusWord.of(0x6985));
    this.signatures++;
    return { der: p256.sign(digest, container.secret, { prehash: false, format: "der" }) };
  }

  async readFile(ref: ObjectRef): Promise<Uint8Array> {
    if (this.power.off) throw new PowerCut("power is off (sim read file)");
    const file = this.files.get(FakeSim.id(ref));
    if (!file) throw statusError("READ FILE", `file id ${FakeSim.id(ref)}`, StatusWord.of(0x6a82));
    return file.slice();
  }
}

// ---- the cloud ----

export interface CloudFaults {
  /** The claim credential is refused during the TLS handshake (a certificate alert). */
  refuseClaimTls?: boolean;
  /** CONNECT with the claim credential is answered "not authorized". */
  refuseClaimConnect?: boolean;
  /** SUBACK 0x80 for the provisioning answer topics. */
  refuseSubscribe?: boolean;
  /** CreateCertificateFromCsr answers on /rejected with this error code. */
  rejectCsr?: string;
  /** RegisterThing answers on /rejected with this error code. */
  rejectRegistration?: string;
  /** The certificate is for another key than the CSR's. */
  wrongKey?: boolean;
  /** The certificate is signed by a CA the device does not trust. */
  foreignIssuer?: boolean;
  /** CreateCertificateFromCsr gets no answer at all. */
  silent?: boolean;
  /** The accepted answer is this raw payload. */
  rawCertificateAnswer?: string;
  /** The network is down: every connection attempt fails. */
  unreachable?: boolean;
}

interface IssuedRecord {
  certificateId: string;
  der: Uint8Array;
  token: string;
  active: boolean;
  thingName: string;
}

const TOPIC_CSR = "$aws/certificates/create-from-csr/json";

export class FakeFleetCloud {
  readonly issued: IssuedRecord[] = [];
  readonly requests: { topic: string; body: Record<string, unknown> }[] = [];
  readonly connections: { clientId: string; kind: "claim" | "operational" }[] = [];
  faults: CloudFaults = {};
  /** Ownership tokens the cloud no longer honours (they expire an hour after issue on AWS). */
  readonly expiredTokens = new Set<string>();
  #foreignCa: TestCa | undefined;

  constructor(
    readonly power: PowerSupply,
    readonly claimCa: TestCa,
    readonly operationalCa: TestCa,
    readonly now: () => number,
    readonly templateName = "iotsafe-fleet",
  ) {}

  /** A CA the device does not trust (made on first use: signing is slow inside XS). */
  get foreignCa(): TestCa {
    return (this.#foreignCa ??= createTestCa("rogue CA", this.now()));
  }

  get registerTopic(): string {
    return `$aws/provisioning-templates/${this.templateName}/provision/json`;
  }

  /** Every ownership token issued so far expires. */
  expireTokens(): void {
    for (const record of this.issued) this.expiredTokens.add(record.token);
  }

  /** The certificate record whose DER is `der`, if the cloud issued it. */
  recordOf(der: Uint8Array): IssuedRecord | undefined {
    return this.issued.find((r) => bytesEqual(r.der, der));
  }

  /** The CloudConnector the provisioner is given. */
  readonly connect: CloudConnector = async (credential, clientId) => {
    if (this.faults.unreachable) throw new MqttConnectionLostError("connection failed: network unreachable");
    this.power.tick("cloud connect");
    const kind = await this.#authenticate(credential);
    this.connections.push({ clientId, kind });
    return new FakeMqtt(this, kind);
  };

  /** A TLS client authentication: the chain's leaf must be one the cloud accepts, and the key must sign. */
  async #authenticate(credential: ClientCredential): Promise<"claim" | "operational"> {
    const chain = await credential.certificateChain();
    const leaf = parseCertificate(chain[0]!);
    const challenge = sha256(utf8ToBytes(`challenge ${this.connections.length}`));
    const signature = await credential.sign(0x0403, challenge);
    const key = leaf.subjectPublicKeyInfo.key;
    const possession = key !== undefined && key.kind === "ec" && p256.verify(signature, challenge, key.point, { prehash: false, format: "der" });
    const issuer = leaf.issuer.commonName;
    if (!possession) throw new MqttConnectionLostError("connection failed", new TlsAlertError(51, 2, "after our Finished"));
    if (issuer === this.claimCa.name) {
      if (this.faults.refuseClaimTls) throw new MqttConnectionLostError("connection failed: TlsAlertError: server sent alert certificate_unknown (46) after our Finished", new TlsAlertError(46, 2, "after our Finished"));
      if (this.faults.refuseClaimConnect) throw new MqttNotAuthorizedError();
      return "claim";
    }
    if (issuer === this.operationalCa.name && this.recordOf(leaf.der)?.active) return "operational";
    throw new MqttNotAuthorizedError();
  }

  /** Handles one request; returns the answer topic and payload (or undefined for no answer). */
  handle(topic: string, payload: Uint8Array): { topic: string; payload: string } | undefined {
    const body = JSON.parse(bytesToUtf8(payload)) as Record<string, unknown>;
    this.requests.push({ topic, body });
    const reject = (t: string, code: string) => ({ topic: `${t}/rejected`, payload: JSON.stringify({ statusCode: 400, errorCode: code, errorMessage: `refused: ${code}` }) });
    if (topic === TOPIC_CSR) {
      if (this.faults.silent) return undefined;
      if (this.faults.rejectCsr) return reject(topic, this.faults.rejectCsr);
      if (this.faults.rawCertificateAnswer !== undefined) return { topic: `${topic}/accepted`, payload: this.faults.rawCertificateAnswer };
      const csr = readCsr(csrDer(body["certificateSigningRequest"] as string));
      if (!csr.signatureValid) return reject(topic, "InvalidCsrSignature");
      const ca = this.faults.foreignIssuer ? this.foreignCa : this.operationalCa;
      const point = this.faults.wrongKey ? pointOf(testSecret("someone else")) : csr.point;
      const now = this.now();
      const der = issueCertificate({ issuer: ca.name, signer: ca.secret, subject: csr.commonName ?? "unnamed", point, notBefore: now - 3_600_000, notAfter: now + 365 * 86_400_000, ca: false });
      const record: IssuedRecord = { certificateId: toHex(sha256(der)), der, token: `token-${this.issued.length + 1}`, active: false, thingName: csr.commonName ?? "unnamed" };
      this.issued.push(record);
      return { topic: `${topic}/accepted`, payload: JSON.stringify({ certificateId: record.certificateId, certificatePem: certificateToPem(der), certificateOwnershipToken: record.token }) };
    }
    if (topic === this.registerTopic) {
      if (this.faults.rejectRegistration) return reject(topic, this.faults.rejectRegistration);
      const token = body["certificateOwnershipToken"];
      const record = typeof token === "string" && !this.expiredTokens.has(token) ? this.issued.find((r) => r.token === token) : undefined;
      if (!record) return reject(topic, "InvalidCertificateOwnershipToken");
      record.active = true;
      return { topic: `${topic}/accepted`, payload: JSON.stringify({ thingName: record.thingName, deviceConfiguration: { reportingIntervalSeconds: "60" } }) };
    }
    return undefined;
  }
}

/** The DER of a PEM "CERTIFICATE REQUEST". */
function csrDer(pem: string): Uint8Array {
  const block = decodePem(pem)[0];
  if (!block || block.label !== "CERTIFICATE REQUEST") throw new Error("not a PEM certificate request");
  return block.der;
}

/** The device's MQTT connection to the fake cloud. */
export class FakeMqtt implements ProvisioningMqtt {
  onMessage: ((message: MqttMessage) => void | Promise<void>) | undefined;
  readonly subscriptions: string[] = [];
  closed = false;

  constructor(
    readonly cloud: FakeFleetCloud,
    readonly kind: "claim" | "operational",
  ) {}

  async subscribe(filters: readonly string[]): Promise<unknown> {
    if (this.closed) throw new MqttConnectionLostError("closed");
    if (this.cloud.faults.refuseSubscribe || this.kind !== "claim") throw new MqttSubscribeRefusedError([...filters], filters.map(() => 0x80));
    this.subscriptions.push(...filters);
    return filters.map(() => 1);
  }

  async publish(topic: string, payload: Uint8Array | string): Promise<void> {
    if (this.closed) throw new MqttConnectionLostError("closed");
    this.cloud.power.tick(`cloud request ${topic} (before)`);
    const bytes = typeof payload === "string" ? utf8ToBytes(payload) : payload;
    const answer = this.cloud.handle(topic, bytes);
    this.cloud.power.tick(`cloud request ${topic} (after)`);
    if (!answer || !this.subscriptions.includes(answer.topic)) return;
    // The answer arrives after PUBACK, as from a broker.
    void Promise.resolve().then(() => {
      if (this.closed || this.cloud.power.off) return;
      void this.onMessage?.({ topic: answer.topic, payload: utf8ToBytes(answer.payload), qos: 1, retain: false, dup: false });
    });
  }

  async disconnect(): Promise<void> {
    this.closed = true;
  }

  async abort(): Promise<void> {
    this.closed = true;
  }
}

/** Concatenated DER, for checks on what a store holds. */
export function concat(chain: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...chain);
}
