/**
 * The virtual cloud's provisioning service: the cloud half of touchless provisioning, speaking the
 * request/response shape of AWS IoT fleet provisioning over the virtual cloud's MQTT broker.
 *
 *   - Clients whose certificate the bootstrap (claim) CA issued may use only the provisioning topics:
 *     publish $aws/certificates/create-from-csr/json and $aws/provisioning-templates/{T}/provision/json,
 *     subscribe to their /accepted and /rejected answers. Answers go to the asking connection only.
 *   - CreateCertificateFromCsr: the CSR's signature is checked (proof that the device holds the key);
 *     a certificate is issued from the operational CA for the CSR's key, CN from a template of the
 *     CSR's subject (e.g. the ICCID the device put in its CN); status PENDING_ACTIVATION, with an
 *     ownership token valid for an hour.
 *   - RegisterThing with that token (and parameters a hook may check) activates it.
 *   - Clients whose certificate the operational CA issued connect only once it is ACTIVE, and then
 *     use the telemetry topics (by default those carrying their CN as a level), never the
 *     provisioning ones.
 * The bootstrap and operational CAs must be different. Activated certificates can be kept in a JSON
 * file so that a device provisioned in one run is still known in the next.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, verify as verifySignature, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { bytesToUtf8, toHex } from "../../../modules/bytes/bytes.js";
import { children, decodeBitStringBytes, decodeOid, decodeOne, DerError, DerReader, TAG } from "../../../modules/crypto/der.js";
import { CertificateError, parseName } from "../../../modules/crypto/x509.js";
import { type DevCa, issueClientCertificate } from "../pki/dev-ca.js";
import { pemDecodeAll, pemEncode, PemError } from "../pki/pem.js";
import { type CloudMessage, type CloudPeer, startVirtualCloud, topicNamesIdentity, type TopicRule, type VirtualCloud, type VirtualCloudOptions } from "./virtual-cloud.js";

export class ProvisioningServiceError extends Error {
  override name = "ProvisioningServiceError";
}

/** Ways to make the service misbehave, for tests of the device's checks. */
export interface ProvisioningFaults {
  /** CreateCertificateFromCsr answers /rejected with this error code. */
  rejectCsr?: string;
  /** RegisterThing answers /rejected with this error code. */
  rejectRegistration?: string;
  /** The certificate is issued for a fresh key, not the CSR's. */
  wrongKey?: boolean;
  /** The certificate is issued by this CA instead of the operational CA. */
  foreignIssuer?: DevCa;
  /** Claim certificates are refused at CONNECT. */
  refuseClaim?: boolean;
}

export interface ProvisioningServiceOptions {
  /** The CA of the claim certificates SIM vendors ship (PEM or a DevCa). */
  claimCa: DevCa | string;
  /** The CA that issues operational certificates. */
  operationalCa: DevCa;
  /** RegisterThing template name. Default "iotsafe-fleet". */
  templateName?: string;
  /** CN of issued certificates from the CSR's subject: "{commonName}" (default) or "{serialNumber}", with fixed text around. */
  commonNameTemplate?: string;
  /** Validity of issued certificates. Default 365 days. */
  certificateDays?: number;
  /** How long an ownership token may be used. Default 1 hour (as AWS). */
  tokenLifetimeMs?: number;
  /** deviceConfiguration returned by RegisterThing. Default {}. */
  deviceConfiguration?: Record<string, string>;
  /** Checks RegisterThing's parameters; a returned string refuses the registration with it. */
  preProvisioningHook?: (parameters: Record<string, string>, certificate: { commonName: string; certificateId: string }) => string | undefined;
  /** Which topics an activated device may use. Default: topics with its CN as a level. */
  telemetryRule?: TopicRule;
  /** JSON file holding the certificate registry across runs. */
  registryPath?: string;
  faults?: ProvisioningFaults;
  log?: (line: string) => void;
}

export type CertificateStatus = "PENDING_ACTIVATION" | "ACTIVE";

export interface IssuedCertificateRecord {
  certificateId: string;
  commonName: string;
  certificatePem: string;
  status: CertificateStatus;
  /** Where the device asked from (the claim connection's CN and client ID). */
  requestedBy: string;
  issuedAt: number;
  thingName?: string;
  ownershipToken?: string;
  tokenExpiresAt?: number;
}

/** What a PKCS#10 request says, once its signature checked out. */
export interface CheckedCsr {
  subject: Record<string, string>;
  /** Uncompressed P-256 point. */
  publicKey: Uint8Array;
}

const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_P256 = "1.2.840.10045.3.1.7";
const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const CN_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** Parses a PEM certificate request and checks its self-signature; ProvisioningServiceError otherwise. */
export function checkCsr(pem: unknown): CheckedCsr {
  if (typeof pem !== "string" || pem.length > 16384) throw new ProvisioningServiceError("certificateSigningRequest must be a PEM string");
  let der: Uint8Array;
  try {
    const block = pemDecodeAll(pem).find((b) => b.label === "CERTIFICATE REQUEST");
    if (!block) throw new ProvisioningServiceError("no CERTIFICATE REQUEST PEM block");
    der = block.der;
  } catch (error) {
    if (error instanceof PemError) throw new ProvisioningServiceError(error.message);
    throw error;
  }
  try {
    const outer = new DerReader(decodeOne(der, TAG.SEQUENCE), "CertificationRequest");
    const info = outer.next(TAG.SEQUENCE, "certificationRequestInfo");
    const algorithm = decodeOid(children(outer.next(TAG.SEQUENCE, "signatureAlgorithm"))[0]?.value ?? new Uint8Array(0));
    const signature = decodeBitStringBytes(outer.next(TAG.BIT_STRING, "signature").value);
    outer.end();
    if (algorithm !== OID_ECDSA_SHA256) throw new ProvisioningServiceError(`signature algorithm ${algorithm} is not ecdsa-with-SHA256`);
    const fields = new DerReader(info, "certificationRequestInfo");
    fields.next(TAG.INTEGER, "version");
    const name = parseName(fields.next(TAG.SEQUENCE, "subject"));
    const spkiElement = fields.next(TAG.SEQUENCE, "subjectPKInfo");
    const spki = new DerReader(spkiElement, "subjectPKInfo");
    const keyAlgorithm = children(spki.next(TAG.SEQUENCE, "algorithm")).map((e) => decodeOid(e.value));
    const publicKey = decodeBitStringBytes(spki.next(TAG.BIT_STRING, "subjectPublicKey").value);
    if (keyAlgorithm[0] !== OID_EC_PUBLIC_KEY || keyAlgorithm[1] !== OID_P256 || publicKey.length !== 65 || publicKey[0] !== 4) {
      throw new ProvisioningServiceError("the request's key is not an uncompressed P-256 key");
    }
    const key = createPublicKey({ key: Buffer.from(spkiElement.raw), format: "der", type: "spki" });
    if (!verifySignature("sha256", info.raw, key, signature)) throw new ProvisioningServiceError("the request's signature does not verify with its own key");
    const subject: Record<string, string> = {};
    for (const attribute of name.attributes) subject[attribute.oid === "2.5.4.3" ? "commonName" : attribute.oid === "2.5.4.5" ? "serialNumber" : attribute.type] = attribute.value;
    return { subject, publicKey };
  } catch (error) {
    if (error instanceof DerError || error instanceof CertificateError) throw new ProvisioningServiceError(`the request does not parse: ${error.message}`);
    if (error instanceof ProvisioningServiceError) throw error;
    throw new ProvisioningServiceError(`the request cannot be checked: ${(error as Error).message}`);
  }
}

function x509(ca: DevCa | string): X509Certificate {
  return new X509Certificate(typeof ca === "string" ? ca : ca.certificatePem);
}

/** Whether `ca` issued the certificate `der` (name chaining and signature). */
function issuedBy(der: Uint8Array, ca: X509Certificate): boolean {
  if (der.length === 0) return false;
  try {
    const certificate = new X509Certificate(der);
    return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
  } catch {
    return false;
  }
}

export class ProvisioningService {
  readonly templateName: string;
  readonly createTopic = "$aws/certificates/create-from-csr/json";
  readonly registerTopic: string;
  faults: ProvisioningFaults;
  readonly #options: ProvisioningServiceOptions;
  readonly #claimCa: X509Certificate;
  readonly #operationalCa: X509Certificate;
  readonly #records = new Map<string, IssuedCertificateRecord>();
  readonly #log: (line: string) => void;
  #cloud: VirtualCloud | undefined;

  constructor(options: ProvisioningServiceOptions) {
    this.#options = options;
    this.templateName = options.templateName ?? "iotsafe-fleet";
    if (!/^[0-9A-Za-z_-]{1,36}$/.test(this.templateName)) throw new ProvisioningServiceError(`template name ${JSON.stringify(this.templateName)} is not valid`);
    this.registerTopic = `$aws/provisioning-templates/${this.templateName}/provision/json`;
    this.faults = options.faults ?? {};
    this.#claimCa = x509(options.claimCa);
    this.#operationalCa = x509(options.operationalCa);
    if (this.#claimCa.fingerprint256 === this.#operationalCa.fingerprint256) throw new ProvisioningServiceError("the claim CA and the operational CA must be different");
    this.#log = options.log ?? (() => {});
    if (options.registryPath && existsSync(options.registryPath)) {
      const saved = JSON.parse(readFileSync(options.registryPath, "utf8")) as IssuedCertificateRecord[];
      for (const record of saved) this.#records.set(record.certificateId, record);
    }
  }

  /** Every certificate issued, by certificateId. */
  get certificates(): readonly IssuedCertificateRecord[] {
    return [...this.#records.values()];
  }

  /** The claim CA's and the operational CA's PEM, for the cloud's TLS server (clientCa). */
  get clientCaPems(): string[] {
    return [this.#claimCa.toString(), this.#operationalCa.toString()];
  }

  /** "claim", "operational", or undefined for a certificate neither CA issued. */
  kindOf(peer: CloudPeer): "claim" | "operational" | undefined {
    if (issuedBy(peer.certificateDer, this.#claimCa)) return "claim";
    if (issuedBy(peer.certificateDer, this.#operationalCa)) return "operational";
    return undefined;
  }

  #recordOf(peer: CloudPeer): IssuedCertificateRecord | undefined {
    return this.#records.get(toHex(createHash("sha256").update(peer.certificateDer).digest()));
  }

  #claimTopics(): { publish: string[]; subscribe: string[] } {
    const answers = (t: string) => [`${t}/accepted`, `${t}/rejected`, `${t}/+`];
    return { publish: [this.createTopic, this.registerTopic], subscribe: [...answers(this.createTopic), ...answers(this.registerTopic)] };
  }

  // ---- the virtual cloud's hooks ----

  readonly authorizeConnect = (peer: CloudPeer): string | undefined => {
    const kind = this.kindOf(peer);
    if (kind === "claim") return this.faults.refuseClaim ? "this claim certificate is not accepted" : undefined;
    if (kind === "operational") {
      const record = this.#recordOf(peer);
      if (!record) return `certificate of ${peer.identity} is unknown to the registry`;
      if (record.status !== "ACTIVE") return `certificate of ${peer.identity} is ${record.status} (RegisterThing not done)`;
      return undefined;
    }
    return `certificate of ${peer.identity} was issued by neither the claim CA nor the operational CA`;
  };

  readonly authorizePublish: TopicRule = (identity, topic, peer) => {
    if (this.kindOf(peer) !== "operational") return false; // claims: only the reserved provisioning topics
    return (this.#options.telemetryRule ?? topicNamesIdentity)(identity, topic, peer);
  };

  readonly authorizeReservedPublish: TopicRule = (_identity, topic, peer) => this.kindOf(peer) === "claim" && this.#claimTopics().publish.includes(topic);

  readonly authorizeSubscribe: TopicRule = (identity, topic, peer) => {
    const kind = this.kindOf(peer);
    if (kind === "claim") return this.#claimTopics().subscribe.includes(topic);
    if (kind === "operational") return !topic.startsWith("$") && (this.#options.telemetryRule ?? topicNamesIdentity)(identity, topic, peer);
    return false;
  };

  /** Handles the provisioning requests published on `cloud`. */
  attach(cloud: VirtualCloud): void {
    this.#cloud = cloud;
    cloud.onMessage((message) => {
      if (message.topic !== this.createTopic && message.topic !== this.registerTopic) return;
      void this.#answer(message).catch((error: unknown) => this.#log(`provisioning: answering ${message.clientId} failed: ${(error as Error).message}`));
    });
  }

  async #answer(message: CloudMessage): Promise<void> {
    const { topic, body } = this.handle(message.topic, message.payload, `${message.identity} (client id ${message.clientId})`);
    const delivered = await this.#cloud!.publishTo(message.clientId, topic, JSON.stringify(body), { qos: 1 });
    if (!delivered) this.#log(`provisioning: ${message.clientId} had not subscribed to ${topic}; the answer is lost`);
  }

  /** The answer (topic and JSON body) to one request. */
  handle(requestTopic: string, payload: Uint8Array, requester: string): { topic: string; body: Record<string, unknown> } {
    const reject = (statusCode: number, errorCode: string, errorMessage: string) => {
      this.#log(`provisioning: REJECTED ${requestTopic === this.createTopic ? "CreateCertificateFromCsr" : "RegisterThing"} from ${requester}: ${errorCode}: ${errorMessage}`);
      return { topic: `${requestTopic}/rejected`, body: { statusCode, errorCode, errorMessage } };
    };
    let body: Record<string, unknown>;
    try {
      const parsed = JSON.parse(bytesToUtf8(payload)) as unknown;
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      body = parsed as Record<string, unknown>;
    } catch {
      return reject(400, "InvalidPayload", "the request is not a JSON object");
    }
    return requestTopic === this.createTopic ? this.#createFromCsr(body, requester, reject) : this.#register(body, requester, reject);
  }

  #createFromCsr(body: Record<string, unknown>, requester: string, reject: (s: number, c: string, m: string) => { topic: string; body: Record<string, unknown> }) {
    if (this.faults.rejectCsr) return reject(400, this.faults.rejectCsr, "refused by the service's fault setting");
    let csr: CheckedCsr;
    try {
      csr = checkCsr(body["certificateSigningRequest"]);
    } catch (error) {
      return reject(400, "InvalidCsr", (error as Error).message);
    }
    const template = this.#options.commonNameTemplate ?? "{commonName}";
    let missing: string | undefined;
    const commonName = template.replace(/\{(\w+)\}/g, (_m, field: string) => {
      const value = csr.subject[field];
      if (value === undefined) missing = field;
      return value ?? "";
    });
    if (missing) return reject(400, "InvalidCsr", `the request's subject has no ${missing} for the CN template ${template}`);
    if (!CN_PATTERN.test(commonName)) return reject(400, "InvalidCsr", `CN ${JSON.stringify(commonName)} is not acceptable (letters, digits, . _ : -; at most 64)`);
    const ca = this.faults.foreignIssuer ?? this.#options.operationalCa;
    const publicKey = this.faults.wrongKey ? fakePoint() : csr.publicKey;
    const der = issueClientCertificate(ca, { cn: commonName, publicKey, days: this.#options.certificateDays ?? 365 });
    const certificateId = toHex(createHash("sha256").update(der).digest());
    const token = randomBytes(48).toString("base64");
    const record: IssuedCertificateRecord = {
      certificateId,
      commonName,
      certificatePem: pemEncode("CERTIFICATE", der),
      status: "PENDING_ACTIVATION",
      requestedBy: requester,
      issuedAt: Date.now(),
      ownershipToken: token,
      tokenExpiresAt: Date.now() + (this.#options.tokenLifetimeMs ?? 3_600_000),
    };
    this.#records.set(certificateId, record);
    this.#save();
    this.#log(`provisioning: CSR from ${requester} verified; certificate ${certificateId.slice(0, 16)}… issued for CN ${commonName} (PENDING_ACTIVATION)`);
    return { topic: `${this.createTopic}/accepted`, body: { certificateId, certificatePem: record.certificatePem, certificateOwnershipToken: token } };
  }

  #register(body: Record<string, unknown>, requester: string, reject: (s: number, c: string, m: string) => { topic: string; body: Record<string, unknown> }) {
    const token = body["certificateOwnershipToken"];
    const record = typeof token === "string" ? [...this.#records.values()].find((r) => r.ownershipToken === token) : undefined;
    if (!record || record.tokenExpiresAt === undefined || record.tokenExpiresAt < Date.now()) return reject(400, "InvalidCertificateOwnershipToken", "the ownership token is unknown or expired");
    const rawParameters = body["parameters"] ?? {};
    if (typeof rawParameters !== "object" || rawParameters === null || Array.isArray(rawParameters)) return reject(400, "InvalidParameters", "parameters must be an object of strings");
    const parameters: Record<string, string> = {};
    for (const [key, value] of Object.entries(rawParameters as Record<string, unknown>)) {
      if (typeof value !== "string") return reject(400, "InvalidParameters", `parameter ${key} is not a string`);
      parameters[key] = value;
    }
    if (this.faults.rejectRegistration) return reject(400, this.faults.rejectRegistration, "refused by the service's fault setting");
    const refusal = this.#options.preProvisioningHook?.(parameters, { commonName: record.commonName, certificateId: record.certificateId });
    if (refusal !== undefined) return reject(403, "AccessDenied", refusal);
    record.status = "ACTIVE";
    record.thingName = record.commonName;
    this.#save();
    this.#log(`provisioning: thing ${record.thingName} registered by ${requester} (${Object.entries(parameters).map(([k, v]) => `${k}=${v}`).join(", ")}); certificate ${record.certificateId.slice(0, 16)}… ACTIVE`);
    return { topic: `${this.registerTopic}/accepted`, body: { thingName: record.thingName, deviceConfiguration: this.#options.deviceConfiguration ?? {} } };
  }

  #save(): void {
    const path = this.#options.registryPath;
    if (!path) return;
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify([...this.#records.values()], null, 2) + "\n");
    renameSync(temporary, path);
  }
}

/** A valid P-256 point that belongs to nobody involved (the wrongKey fault). */
function fakePoint(): Uint8Array {
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
  return new Uint8Array(Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]));
}

export interface ProvisioningCloud {
  cloud: VirtualCloud;
  service: ProvisioningService;
}

/**
 * The virtual cloud with the provisioning service plugged in: client certificates from the claim
 * CA or the operational CA are accepted by TLS; the service decides the rest.
 */
export async function startProvisioningCloud(
  options: ProvisioningServiceOptions & Omit<VirtualCloudOptions, "clientCa" | "authorizePublish" | "authorizeSubscribe" | "authorizeConnect" | "authorizeReservedPublish">,
): Promise<ProvisioningCloud> {
  const service = new ProvisioningService(options);
  const cloud = await startVirtualCloud({
    ...options,
    clientCa: service.clientCaPems,
    authorizeConnect: service.authorizeConnect,
    authorizePublish: service.authorizePublish,
    authorizeSubscribe: service.authorizeSubscribe,
    authorizeReservedPublish: service.authorizeReservedPublish,
  });
  service.attach(cloud);
  return { cloud, service };
}
