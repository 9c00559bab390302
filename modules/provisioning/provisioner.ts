/**
 * Touchless provisioning: the device gets its operational identity by itself at first boot.
 *
 *   check ─ a stored certificate that matches the SIM's key, chains to the trust anchors and is
 *   │       not about to expire? → use it.
 *   generate-key ─ GENERATE KEY PAIR in an (empty, writable) operational container of the SIM
 *   csr ─ PKCS#10 request for the new public key, signed by the SIM with that key
 *   claim-connect ─ TLS (claim key in the SIM) + MQTT with the bootstrap credential
 *   certificate-request ─ CreateCertificateFromCsr
 *   certificate-verified ─ the certificate carries the SIM's key and chains to the trust anchors
 *   certificate-stored ─ in flash (or a writable SIM file)
 *   register ─ RegisterThing with the ownership token: the cloud activates the certificate
 *   committed ─ "active" now names the new key and certificate; the caller reconnects with them
 *
 * Power cuts: each step's result is written to durable storage before the next starts (state.ts),
 * and a reboot resumes from the last completed step — after checking it against the SIM, which is
 * the truth about which key a container holds. The claim credential is never modified, and with two
 * operational containers a renewal builds the new identity beside the working one, so an
 * interrupted enrollment never leaves the device without a credential that works.
 */
import { bytesEqual, toHex } from "../bytes/bytes.js";
import { verifyCertificateChain, TrustStore } from "../crypto/path.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { CertificateError, parseCertificate, type Certificate } from "../crypto/x509.js";
import { buildCsr, csrToPem, type CsrSubject } from "../iotsafe/csr.js";
import { IotSafeStatusError } from "../iotsafe/errors.js";
import { objectId, type ObjectRef } from "../iotsafe/objects.js";
import { checkUncompressedPoint } from "../iotsafe/public-key.js";
import { MqttBadCredentialsError, MqttNotAuthorizedError } from "../mqtt/errors.js";
import type { Platform } from "../platform/platform.js";
import type { KeyValueStore } from "../platform/storage.js";
import type { ClientCredential } from "../tls/credential.js";
import { TlsAlertError } from "../tls/errors.js";
import { type DeviceFacts, expandFacts, type ProvisioningConfig } from "./config.js";
import { ClosedAfterHandshakeError } from "./connect.js";
import { type ProvisioningSim, SimKeyCredential } from "./credential.js";
import { CertificateChainError, CertificateKeyMismatchError, ClaimRejectedError, ProvisioningError, ProvisioningResponseError, RegistrationRejectedError } from "./errors.js";
import { FleetProvisioningClient, type IssuedCertificate, type ProvisioningMqtt } from "./fleet-api.js";
import { type CertificateStore, EnrollmentState, FlashCertificateStore, hexToPoint, type PendingRecord, pointToHex } from "./state.js";

/** Opens an MQTT connection to the cloud authenticated with `credential` (TLS client certificate). */
export type CloudConnector = (credential: ClientCredential, clientId: string) => Promise<ProvisioningMqtt>;

export type ProvisioningStep =
  | "check"
  | "generate-key"
  | "csr"
  | "claim-connect"
  | "certificate-request"
  | "certificate-verified"
  | "certificate-stored"
  | "register"
  | "committed";

export type ProvisioningEvent =
  | { type: "step"; step: ProvisioningStep; ms: number; detail: string }
  /** A reboot found an enrollment in progress and continues it after `step`. */
  | { type: "resume"; after: PendingRecord["step"]; slot: number; detail: string }
  /** A renewal was due and failed; the device keeps its current, still valid identity. */
  | { type: "renewal-failed"; error: string };

export interface ProvisionerOptions {
  sim: ProvisioningSim;
  /** A storage domain of its own (e.g. "provision"). */
  store: KeyValueStore;
  config: ProvisioningConfig;
  platform: Platform;
  provider: CryptoProvider;
  /** ICCID and IMEI, for the CSR subject, the claim client ID and the RegisterThing parameters. */
  device: DeviceFacts;
  connect: CloudConnector;
  /** Where issued chains live. Default: flash (the same storage domain). */
  certificateStore?: CertificateStore;
  /** Wall clock for certificate validity (epoch ms). Default platform.wallClock(). */
  clock?: () => number;
  onEvent?: (event: ProvisioningEvent) => void;
}

export interface OperationalIdentity {
  /** TLS client credential: the SIM key of `keyId` with the issued chain. */
  credential: ClientCredential;
  chain: Uint8Array[];
  /** The leaf's CN: the device's MQTT client ID and identity in the cloud. */
  clientId: string;
  thingName: string;
  certificateId: string;
  /** Hex ID of the SIM container holding the key. */
  keyId: string;
  slot: number;
  notAfter: number;
  deviceConfiguration: Record<string, string>;
  /** Whether this call enrolled (first boot, missing, unusable or expiring certificate). */
  enrolled: boolean;
  /** Set when a renewal was due and failed: the identity is the previous one, still valid. */
  renewalError?: Error;
}

/** TLS alerts by which a server refuses a client certificate (RFC 8446 §6.2). */
const CERTIFICATE_REFUSAL_ALERTS = new Set([42, 43, 44, 45, 46, 48, 49, 116]);

/** Whether `error` (or one it wraps) says the server refused the client's credential. */
export function isCredentialRefusal(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    if (current instanceof TlsAlertError && CERTIFICATE_REFUSAL_ALERTS.has(current.description)) return true;
    if (current instanceof MqttNotAuthorizedError || current instanceof MqttBadCredentialsError || current instanceof ClosedAfterHandshakeError) return true;
    const next = (current as { reason?: unknown; cause?: unknown }).reason ?? (current as { cause?: unknown }).cause;
    current = next;
  }
  return false;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The error and the failures it wraps (`reason` / `cause`), outermost first. */
function describeWithCauses(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const text = describe(current);
    if (!parts.some((p) => p.includes(text))) parts.push(text);
    current = current instanceof Error ? ((current as { reason?: unknown }).reason ?? (current as { cause?: unknown }).cause) : undefined;
  }
  return parts.join(" ← ");
}

function shortHex(bytes: Uint8Array): string {
  const hex = toHex(bytes);
  return hex.length > 20 ? `${hex.slice(0, 12)}…${hex.slice(-8)}` : hex;
}

/** The uncompressed P-256 point of a certificate's key, or undefined when it has none. */
function certificatePoint(leaf: Certificate): Uint8Array | undefined {
  const key = leaf.subjectPublicKeyInfo.key;
  return key && key.kind === "ec" && key.curve === "secp256r1" ? key.point : undefined;
}

interface CurrentIdentity {
  identity: OperationalIdentity;
  renewalDue: boolean;
}

export class Provisioner {
  readonly #o: ProvisionerOptions;
  readonly #state: EnrollmentState;
  readonly #certificates: CertificateStore;
  readonly #clock: () => number;
  #trust: TrustStore | undefined;

  constructor(options: ProvisionerOptions) {
    this.#o = options;
    this.#state = new EnrollmentState(options.store, options.config.operationalKeyIds.length, options.platform);
    this.#certificates = options.certificateStore ?? new FlashCertificateStore(options.store);
    this.#clock = options.clock ?? (() => options.platform.wallClock());
  }

  /**
   * The device's operational identity: the stored one when it is usable and not due for renewal,
   * otherwise a new one, enrolled now (resuming an enrollment a reboot interrupted). Throws a
   * ProvisioningError subclass when the cloud refuses or sends something unusable; a failed
   * renewal still resolves with the current identity (and `renewalError`).
   */
  async ensure(): Promise<OperationalIdentity> {
    const started = this.#o.platform.now();
    const current = await this.#current();
    let pending = this.#state.pending;
    if (current && pending && pending.slot === current.identity.slot) {
      // Left over from a commit cut short: an enrollment into a slot clears its "active" first.
      this.#state.clearPending();
      pending = undefined;
    }
    if (current && !current.renewalDue) {
      this.#emit("check", started, `provisioned: ${current.identity.clientId} (key ${current.identity.keyId}, certificate valid to ${new Date(current.identity.notAfter).toISOString()})`);
      return current.identity;
    }
    this.#emit(
      "check",
      started,
      current ? `certificate of ${current.identity.clientId} expires ${new Date(current.identity.notAfter).toISOString()}: renewing` : pending ? "enrollment in progress" : "no operational certificate: enrolling",
    );
    try {
      return await this.#enroll(current?.identity);
    } catch (error) {
      if (!current) throw error;
      // A renewal that failed: the old identity stands if the SIM still holds its key (two slots).
      const still = await this.#current().catch(() => undefined);
      if (!still) throw error;
      this.#o.platform.log("warn", "provision", `renewal failed (${describe(error)}); keeping ${still.identity.clientId} until it expires`);
      this.#o.onEvent?.({ type: "renewal-failed", error: describe(error) });
      return { ...still.identity, renewalError: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  // ---- the stored identity ----

  #slotRef(slot: number): ObjectRef {
    return objectId(this.#o.config.operationalKeyIds[slot]!);
  }

  /** The SIM's public key in a container, or undefined when the container is empty. */
  async #simPoint(ref: ObjectRef): Promise<Uint8Array | undefined> {
    try {
      return await this.#o.sim.readPublicKey(ref);
    } catch (error) {
      if (error instanceof IotSafeStatusError) return undefined;
      throw error;
    }
  }

  async #trustStore(): Promise<TrustStore> {
    if (this.#trust) return this.#trust;
    const anchors: (Uint8Array | string)[] = [];
    for (const entry of this.#o.config.certificateTrustAnchors) {
      anchors.push(entry.startsWith("sim:") ? await this.#o.sim.readFile(objectId(entry.slice(4))) : entry);
    }
    try {
      this.#trust = new TrustStore(anchors);
    } catch (error) {
      throw new ProvisioningError(`the configured certificate trust anchors do not parse: ${describe(error)}`, error);
    }
    return this.#trust;
  }

  /** Throws CertificateChainError unless `chain` chains to the trust anchors and is valid now. */
  async #verifyChain(chain: readonly Uint8Array[]): Promise<Certificate> {
    try {
      return verifyCertificateChain(chain, { provider: this.#o.provider, trustStore: await this.#trustStore(), time: this.#clock(), hostname: null, purpose: "clientAuth" }).leaf;
    } catch (error) {
      if (error instanceof CertificateError) throw new CertificateChainError(`the certificate does not chain to the configured trust anchors: ${error.message}`, error);
      throw error;
    }
  }

  async #current(): Promise<CurrentIdentity | undefined> {
    const active = this.#state.active;
    if (!active) return undefined;
    const log = (why: string) => {
      this.#o.platform.log("warn", "provision", `the stored operational identity is not usable: ${why}`);
      return undefined;
    };
    const chain = await this.#certificates.load(active.slot);
    if (!chain) return log(`no readable certificate for slot ${active.slot} in ${this.#certificates.kind}`);
    let leaf: Certificate;
    try {
      leaf = parseCertificate(chain[0]!);
    } catch (error) {
      return log(`the stored certificate does not parse (${describe(error)})`);
    }
    const ref = this.#slotRef(active.slot);
    const simPoint = await this.#simPoint(ref);
    const certPoint = certificatePoint(leaf);
    if (!simPoint || !certPoint || !bytesEqual(simPoint, certPoint)) {
      return log(`the SIM's key in container ${this.#o.config.operationalKeyIds[active.slot]} is not the certificate's (a key generation was interrupted?)`);
    }
    try {
      await this.#verifyChain(chain);
    } catch (error) {
      if (error instanceof CertificateChainError) return log(error.message);
      throw error;
    }
    const clientId = leaf.subject.commonName;
    if (!clientId) return log("the stored certificate has no CN");
    return {
      identity: this.#identity(active.slot, chain, leaf, clientId, active.certificateId, active.thingName, active.deviceConfiguration, false),
      renewalDue: leaf.notAfter - this.#clock() <= this.#o.config.renewBeforeMs,
    };
  }

  #identity(slot: number, chain: Uint8Array[], leaf: Certificate, clientId: string, certificateId: string, thingName: string, deviceConfiguration: Record<string, string>, enrolled: boolean): OperationalIdentity {
    return {
      credential: new SimKeyCredential(this.#o.sim, this.#slotRef(slot), async () => chain),
      chain,
      clientId,
      thingName,
      certificateId,
      keyId: this.#o.config.operationalKeyIds[slot]!,
      slot,
      notAfter: leaf.notAfter,
      deviceConfiguration,
      enrolled,
    };
  }

  // ---- enrollment ----

  async #enroll(current: OperationalIdentity | undefined): Promise<OperationalIdentity> {
    const config = this.#o.config;
    const slots = config.operationalKeyIds.length;
    // With two containers, never generate over the key in use.
    const avoid = current && slots === 2 ? current.slot : undefined;
    let pending = this.#state.pending;
    if (pending && pending.slot === avoid) pending = undefined;
    const slot = pending?.slot ?? (avoid === undefined ? 0 : 1 - avoid);
    const ref = this.#slotRef(slot);
    const keyId = config.operationalKeyIds[slot]!;

    // The key: resume with the one a reboot left, if the SIM still holds it.
    let publicKey: Uint8Array | undefined;
    if (pending && pending.step !== "generating") {
      const simPoint = await this.#simPoint(ref);
      if (simPoint && bytesEqual(simPoint, hexToPoint(pending.publicKey))) {
        publicKey = simPoint;
        this.#o.onEvent?.({ type: "resume", after: pending.step, slot, detail: `key ${keyId} generated before the restart is still in the SIM` });
      } else {
        this.#o.platform.log("warn", "provision", `container ${keyId} no longer holds the key of the interrupted enrollment; generating a new one`);
        pending = undefined;
      }
    } else if (pending) {
      this.#o.onEvent?.({ type: "resume", after: pending.step, slot, detail: `key generation in container ${keyId} may not have finished: generating again` });
    }
    if (!publicKey) {
      pending = undefined;
      if (this.#state.active?.slot === slot) this.#state.clearActive(); // its key is about to be replaced
      this.#state.setPending({ step: "generating", slot });
      const started = this.#o.platform.now();
      const generated = await this.#o.sim.generateKeyPair(ref);
      if (generated.privateKeyId && !bytesEqual(generated.privateKeyId, ref.id!)) {
        this.#o.platform.log("warn", "provision", `the applet reports private key ID ${toHex(generated.privateKeyId)} for container ${keyId}; signing keeps using ${keyId}`);
      }
      checkUncompressedPoint(generated.publicKey, "generated public key");
      publicKey = generated.publicKey;
      this.#state.setPending({ step: "key-generated", slot, publicKey: pointToHex(publicKey) });
      this.#emit("generate-key", started, `P-256 key pair generated inside the SIM in container ${keyId}: public key ${shortHex(publicKey)}`);
    }

    // A certificate issued before the restart, if it is stored and is for this key.
    let issued: IssuedCertificate | undefined;
    if (pending?.step === "certificate-issued") {
      const chain = await this.#certificates.load(slot);
      const point = chain ? certificatePoint(parseCertificate(chain[0]!)) : undefined;
      if (chain && point && bytesEqual(point, publicKey)) issued = { certificateId: pending.certificateId, chain, ownershipToken: pending.ownershipToken };
    }

    // The request is signed before connecting: a SIM signature takes seconds on real SIMs.
    let csrPem = issued ? undefined : await this.#buildCsr(slot, publicKey);
    let started = this.#o.platform.now();
    const mqtt = await this.#connectClaim();
    this.#emit("claim-connect", started, `connected with the claim credential (key ${config.claim.privateKeyId} in the SIM, certificate from file${config.claim.certificateIds.length > 1 ? "s" : ""} ${config.claim.certificateIds.join(", ")})`);
    try {
      const api = new FleetProvisioningClient(mqtt, config, this.#o.platform);
      const resumedToken = issued !== undefined;
      if (!issued) issued = await this.#requestCertificate(api, slot, publicKey, csrPem!);
      let registration;
      started = this.#o.platform.now();
      try {
        registration = await api.registerThing(issued.ownershipToken, this.#parameters());
      } catch (error) {
        // An ownership token from before a restart may have expired: ask for a new certificate once.
        if (!(error instanceof RegistrationRejectedError) || !resumedToken) throw error;
        this.#o.platform.log("warn", "provision", `the ownership token from before the restart was refused (${error.message}); requesting a new certificate`);
        csrPem = await this.#buildCsr(slot, publicKey);
        issued = await this.#requestCertificate(api, slot, publicKey, csrPem);
        started = this.#o.platform.now();
        registration = await api.registerThing(issued.ownershipToken, this.#parameters());
      }
      this.#emit("register", started, `thing ${registration.thingName} registered, certificate ${issued.certificateId} activated`);

      const leaf = parseCertificate(issued.chain[0]!);
      this.#state.setActive({ slot, certificateId: issued.certificateId, thingName: registration.thingName, deviceConfiguration: registration.deviceConfiguration });
      this.#state.clearPending();
      this.#emit("committed", this.#o.platform.now(), `operational identity ${leaf.subject.commonName} (key ${keyId}) is now the device's`);
      return this.#identity(slot, issued.chain, leaf, leaf.subject.commonName!, issued.certificateId, registration.thingName, registration.deviceConfiguration, true);
    } finally {
      await mqtt.disconnect().catch(() => mqtt.abort().catch(() => undefined));
    }
  }

  #parameters(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.#o.config.parameters)) out[key] = expandFacts(value, this.#o.device, `provisioning.parameters.${key}`);
    return out;
  }

  #subject(): CsrSubject {
    const s = this.#o.config.subject;
    const subject: CsrSubject = {};
    if (s.commonName) subject.commonName = expandFacts(s.commonName, this.#o.device, "provisioning.subject.commonName");
    if (s.serialNumber) subject.serialNumber = expandFacts(s.serialNumber, this.#o.device, "provisioning.subject.serialNumber");
    if (s.organization) subject.organization = expandFacts(s.organization, this.#o.device, "provisioning.subject.organization");
    return subject;
  }

  async #connectClaim(): Promise<ProvisioningMqtt> {
    const claim = this.#o.config.claim;
    const credential = new SimKeyCredential(this.#o.sim, objectId(claim.privateKeyId), async () => {
      const chain: Uint8Array[] = [];
      for (const id of claim.certificateIds) chain.push(await this.#o.sim.readFile(objectId(id)));
      return chain;
    });
    try {
      return await this.#o.connect(credential, expandFacts(claim.clientId, this.#o.device, "provisioning.claim.clientId"));
    } catch (error) {
      if (isCredentialRefusal(error)) throw new ClaimRejectedError(`the cloud refused this SIM's claim credential: ${describeWithCauses(error)}`, error);
      throw error;
    }
  }

  /** A PKCS#10 request (PEM) for the key in `slot`, signed in the SIM with that key. */
  async #buildCsr(slot: number, publicKey: Uint8Array): Promise<string> {
    const ref = this.#slotRef(slot);
    const started = this.#o.platform.now();
    const subject = this.#subject();
    const csr = await buildCsr({ subject, publicKey, signDigest: async (digest) => (await this.#o.sim.signDigest(ref, digest, { hash: "sha256", scalarLength: 32 })).der });
    this.#emit("csr", started, `PKCS#10 request (${csr.length} bytes, subject ${Object.entries(subject).map(([k, v]) => `${k}=${v}`).join(", ")}) signed in the SIM with key ${this.#o.config.operationalKeyIds[slot]!}`);
    return csrToPem(csr);
  }

  /** CreateCertificateFromCsr → checks → stored, and "pending" says so. */
  async #requestCertificate(api: FleetProvisioningClient, slot: number, publicKey: Uint8Array, csrPem: string): Promise<IssuedCertificate> {
    const keyId = this.#o.config.operationalKeyIds[slot]!;
    let started = this.#o.platform.now();
    const issued = await api.createCertificateFromCsr(csrPem);
    let leaf: Certificate;
    try {
      leaf = parseCertificate(issued.chain[0]!);
    } catch (error) {
      throw new ProvisioningResponseError(`the issued certificate does not parse: ${describe(error)}`, error);
    }
    this.#emit("certificate-request", started, `certificate ${issued.certificateId} issued for ${leaf.subject.commonName ?? leaf.subject.text} by ${leaf.issuer.commonName ?? leaf.issuer.text}`);

    started = this.#o.platform.now();
    const point = certificatePoint(leaf);
    if (!point || !bytesEqual(point, publicKey)) {
      throw new CertificateKeyMismatchError(
        `the issued certificate ${issued.certificateId} is for public key ${point ? shortHex(point) : "(not a P-256 key)"}, not the SIM's key ${shortHex(publicKey)} in container ${keyId}`,
      );
    }
    await this.#verifyChain(issued.chain);
    if (!leaf.subject.commonName) throw new ProvisioningResponseError(`the issued certificate ${issued.certificateId} has no CN to serve as the device's identity`);
    this.#emit("certificate-verified", started, `holds the SIM's public key; chains to ${leaf.issuer.commonName ?? leaf.issuer.text}; valid to ${new Date(leaf.notAfter).toISOString()}`);

    started = this.#o.platform.now();
    await this.#certificates.save(slot, issued.chain);
    this.#state.setPending({ step: "certificate-issued", slot, publicKey: pointToHex(publicKey), certificateId: issued.certificateId, ownershipToken: issued.ownershipToken });
    this.#emit("certificate-stored", started, `${issued.chain.reduce((n, c) => n + c.length, 0)} bytes in ${this.#certificates.kind === "flash" ? "the device's flash" : "a SIM file"} (slot ${slot})`);
    return issued;
  }

  #emit(step: ProvisioningStep, started: number, detail: string): void {
    const ms = Math.round(this.#o.platform.now() - started);
    this.#o.platform.log("info", "provision", `${step}: ${detail}`);
    try {
      this.#o.onEvent?.({ type: "step", step, ms, detail });
    } catch (error) {
      this.#o.platform.log("error", "provision", `event handler threw: ${describe(error)}`);
    }
  }
}
