/**
 * Configuration of touchless provisioning, with documented defaults. Every field is optional in the
 * input; parseProvisioningConfig fills in the defaults and checks the rest. The topic names and
 * payload field names default to AWS IoT fleet provisioning's MQTT API (CreateCertificateFromCsr
 * then RegisterThing, JSON payloads), so the same firmware works against that service; another
 * service with the same request/accepted/rejected shape needs only other names here.
 */
import { ProvisioningConfigError } from "./errors.js";

export interface ClaimConfig {
  /** Private-key container (hex ID) of the bootstrap (claim) key the SIM vendor put in. Default "01". */
  privateKeyId: string;
  /** SIM files (hex IDs) holding the claim certificate chain, leaf first. Default ["02"]. */
  certificateIds: readonly string[];
  /** MQTT client ID while provisioning; `{iccid}` and `{imei}` are replaced. Default "provision-{iccid}". */
  clientId: string;
}

export interface TopicConfig {
  /** CreateCertificateFromCsr request topic. Default "$aws/certificates/create-from-csr/json". */
  createCertificate: string;
  /** RegisterThing request topic; `{templateName}` is replaced. Default "$aws/provisioning-templates/{templateName}/provision/json". */
  registerThing: string;
  /** Appended to a request topic for the success answer. Default "/accepted". */
  acceptedSuffix: string;
  /** Appended to a request topic for the refusal. Default "/rejected". */
  rejectedSuffix: string;
}

/** JSON field names of the requests and answers (AWS's by default). */
export interface FieldConfig {
  certificateSigningRequest: string;
  certificateId: string;
  certificatePem: string;
  certificateOwnershipToken: string;
  parameters: string;
  thingName: string;
  deviceConfiguration: string;
  statusCode: string;
  errorCode: string;
  errorMessage: string;
}

export interface CsrSubjectConfig {
  /** CN of the request; `{iccid}` and `{imei}` are replaced. Default "{iccid}". */
  commonName?: string;
  /** serialNumber attribute of the request. Default "{imei}". */
  serialNumber?: string;
  organization?: string;
}

export interface ProvisioningConfig {
  claim: ClaimConfig;
  /**
   * Private-key containers (hex IDs) for the operational key: one, or two used in turn so that a
   * renewal generates the new key beside the working one and switches only once the new
   * certificate is stored and registered. Default ["06", "07"].
   */
  operationalKeyIds: readonly string[];
  /**
   * Trust anchors the issued certificate must chain to: "sim:<file ID>" reads a DER certificate from
   * that IoT SAFE file, anything else is PEM text. Default ["sim:08"].
   */
  certificateTrustAnchors: readonly string[];
  /** Enroll again once the operational certificate expires within this many ms. Default 30 days. */
  renewBeforeMs: number;
  /** Provisioning template name (RegisterThing). Default "iotsafe-fleet". */
  templateName: string;
  topics: TopicConfig;
  fields: FieldConfig;
  /** RegisterThing parameters; values may hold `{iccid}` and `{imei}`. Default { SerialNumber: "{imei}", ICCID: "{iccid}" }. */
  parameters: Readonly<Record<string, string>>;
  subject: CsrSubjectConfig;
  /** How long each answer (accepted or rejected) may take. Default 30000 ms. */
  responseTimeoutMs: number;
  /** Largest answer payload accepted. Default 8192 bytes. */
  maxResponseBytes: number;
}

export const DEFAULT_PROVISIONING_CONFIG: ProvisioningConfig = {
  claim: { privateKeyId: "01", certificateIds: ["02"], clientId: "provision-{iccid}" },
  operationalKeyIds: ["06", "07"],
  certificateTrustAnchors: ["sim:08"],
  renewBeforeMs: 30 * 86_400_000,
  templateName: "iotsafe-fleet",
  topics: {
    createCertificate: "$aws/certificates/create-from-csr/json",
    registerThing: "$aws/provisioning-templates/{templateName}/provision/json",
    acceptedSuffix: "/accepted",
    rejectedSuffix: "/rejected",
  },
  fields: {
    certificateSigningRequest: "certificateSigningRequest",
    certificateId: "certificateId",
    certificatePem: "certificatePem",
    certificateOwnershipToken: "certificateOwnershipToken",
    parameters: "parameters",
    thingName: "thingName",
    deviceConfiguration: "deviceConfiguration",
    statusCode: "statusCode",
    errorCode: "errorCode",
    errorMessage: "errorMessage",
  },
  parameters: { SerialNumber: "{imei}", ICCID: "{iccid}" },
  subject: { commonName: "{iccid}", serialNumber: "{imei}" },
  responseTimeoutMs: 30000,
  maxResponseBytes: 8192,
};

/** What a device knows about itself for the templates. */
export interface DeviceFacts {
  iccid: string;
  imei: string;
}

/** Replaces `{iccid}` and `{imei}`; refuses unknown placeholders and missing facts. */
export function expandFacts(template: string, facts: DeviceFacts, what: string): string {
  return template.replace(/\{([^}]*)\}/g, (_match, name: string) => {
    if (name !== "iccid" && name !== "imei") throw new ProvisioningConfigError(`${what}: unknown placeholder {${name}} (use {iccid} or {imei})`);
    const value = facts[name];
    if (!value) throw new ProvisioningConfigError(`${what} needs the device's ${name.toUpperCase()}, which the modem did not report`);
    return value;
  });
}

type Json = Record<string, unknown>;

function section(input: Json, name: string, where: string): Json {
  const value = input[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new ProvisioningConfigError(`${where}${name} must be an object`);
  return value as Json;
}

function checkKeys(input: Json, known: readonly string[], where: string): void {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) throw new ProvisioningConfigError(`unknown setting ${where}${key} (known: ${known.join(", ")})`);
  }
}

function str(input: Json, key: string, fallback: string, where: string, maxLength = 256): string {
  const value = input[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string" || value.length === 0) throw new ProvisioningConfigError(`${where}${key} must be a non-empty string`);
  if (value.length > maxLength) throw new ProvisioningConfigError(`${where}${key} is longer than ${maxLength} characters`);
  return value;
}

function int(input: Json, key: string, fallback: number, min: number, max: number, where: string): number {
  const value = input[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ProvisioningConfigError(`${where}${key} must be an integer ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function hexId(value: unknown, what: string): string {
  if (typeof value !== "string" || !/^([0-9A-Fa-f]{2}){1,16}$/.test(value)) throw new ProvisioningConfigError(`${what} must be 1..16 bytes of hex, not ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

function idList(input: Json, key: string, fallback: readonly string[], where: string, maxItems: number): string[] {
  const value = input[key];
  if (value === undefined || value === null) return [...fallback];
  if (!Array.isArray(value) || value.length === 0 || value.length > maxItems) throw new ProvisioningConfigError(`${where}${key} must be a list of 1..${maxItems} hex IDs`);
  return value.map((id, i) => hexId(id, `${where}${key}[${i}]`));
}

/** A topic name usable for PUBLISH: no wildcards, no NUL, not empty. */
function topic(value: string, what: string): string {
  if (/[+#\u0000]/.test(value)) throw new ProvisioningConfigError(`${what} ${JSON.stringify(value)} must not hold + # or NUL`);
  return value;
}

/** The configuration `input` asks for, defaults filled in; ProvisioningConfigError on anything wrong. */
export function parseProvisioningConfig(input: unknown): ProvisioningConfig {
  if (input === undefined || input === null) input = {};
  if (typeof input !== "object" || Array.isArray(input)) throw new ProvisioningConfigError("the provisioning configuration must be an object");
  const root = input as Json;
  const d = DEFAULT_PROVISIONING_CONFIG;
  checkKeys(
    root,
    ["claim", "operationalKeyIds", "certificateTrustAnchors", "renewBeforeMs", "templateName", "topics", "fields", "parameters", "subject", "responseTimeoutMs", "maxResponseBytes"],
    "provisioning.",
  );

  const c = section(root, "claim", "provisioning.");
  checkKeys(c, ["privateKeyId", "certificateIds", "clientId"], "provisioning.claim.");
  const claim: ClaimConfig = {
    privateKeyId: hexId(c["privateKeyId"] ?? d.claim.privateKeyId, "provisioning.claim.privateKeyId"),
    certificateIds: idList(c, "certificateIds", d.claim.certificateIds, "provisioning.claim.", 4),
    clientId: str(c, "clientId", d.claim.clientId, "provisioning.claim.", 64),
  };

  const operationalKeyIds = idList(root, "operationalKeyIds", d.operationalKeyIds, "provisioning.", 2);
  if (operationalKeyIds.length === 2 && operationalKeyIds[0] === operationalKeyIds[1]) throw new ProvisioningConfigError("provisioning.operationalKeyIds must name two different containers");
  if (operationalKeyIds.includes(claim.privateKeyId)) throw new ProvisioningConfigError("provisioning.operationalKeyIds must not include the claim key's container");

  const anchorsInput = root["certificateTrustAnchors"];
  let certificateTrustAnchors: string[] = [...d.certificateTrustAnchors];
  if (anchorsInput !== undefined && anchorsInput !== null) {
    if (!Array.isArray(anchorsInput) || anchorsInput.length === 0 || anchorsInput.length > 8) throw new ProvisioningConfigError("provisioning.certificateTrustAnchors must hold 1..8 entries");
    certificateTrustAnchors = anchorsInput.map((entry: unknown, i) => {
      if (typeof entry !== "string") throw new ProvisioningConfigError(`provisioning.certificateTrustAnchors[${i}] must be a string`);
      if (entry.startsWith("sim:")) return `sim:${hexId(entry.slice(4), `provisioning.certificateTrustAnchors[${i}] file ID`)}`;
      if (!entry.includes("-----BEGIN CERTIFICATE-----")) throw new ProvisioningConfigError(`provisioning.certificateTrustAnchors[${i}] is neither "sim:<file ID>" nor a PEM certificate`);
      return entry;
    });
  }

  const t = section(root, "topics", "provisioning.");
  checkKeys(t, ["createCertificate", "registerThing", "acceptedSuffix", "rejectedSuffix"], "provisioning.topics.");
  const topics: TopicConfig = {
    createCertificate: topic(str(t, "createCertificate", d.topics.createCertificate, "provisioning.topics.", 200), "provisioning.topics.createCertificate"),
    registerThing: topic(str(t, "registerThing", d.topics.registerThing, "provisioning.topics.", 200), "provisioning.topics.registerThing"),
    acceptedSuffix: topic(str(t, "acceptedSuffix", d.topics.acceptedSuffix, "provisioning.topics.", 40), "provisioning.topics.acceptedSuffix"),
    rejectedSuffix: topic(str(t, "rejectedSuffix", d.topics.rejectedSuffix, "provisioning.topics.", 40), "provisioning.topics.rejectedSuffix"),
  };
  if (topics.acceptedSuffix === topics.rejectedSuffix) throw new ProvisioningConfigError("provisioning.topics: the accepted and rejected suffixes must differ");

  const f = section(root, "fields", "provisioning.");
  const fieldNames = Object.keys(d.fields) as (keyof FieldConfig)[];
  checkKeys(f, fieldNames, "provisioning.fields.");
  const fields = {} as FieldConfig;
  for (const name of fieldNames) fields[name] = str(f, name, d.fields[name], "provisioning.fields.", 64);

  const templateName = str(root, "templateName", d.templateName, "provisioning.", 36);
  if (!/^[0-9A-Za-z_-]+$/.test(templateName)) throw new ProvisioningConfigError("provisioning.templateName may hold only letters, digits, '_' and '-'");

  let parameters: Record<string, string> = { ...d.parameters };
  const p = root["parameters"];
  if (p !== undefined && p !== null) {
    if (typeof p !== "object" || Array.isArray(p)) throw new ProvisioningConfigError("provisioning.parameters must be an object of strings");
    parameters = {};
    const entries = Object.entries(p as Json);
    if (entries.length > 16) throw new ProvisioningConfigError("provisioning.parameters holds more than 16 entries");
    for (const [key, value] of entries) {
      if (typeof value !== "string" || value.length > 256) throw new ProvisioningConfigError(`provisioning.parameters.${key} must be a string of at most 256 characters`);
      parameters[key] = value;
    }
  }

  const s = section(root, "subject", "provisioning.");
  checkKeys(s, ["commonName", "serialNumber", "organization"], "provisioning.subject.");
  const subject: CsrSubjectConfig = {};
  const hasSubject = Object.keys(s).length > 0;
  for (const key of ["commonName", "serialNumber", "organization"] as const) {
    const fallback = hasSubject ? undefined : d.subject[key];
    const value = s[key] ?? fallback;
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || value.length === 0 || value.length > 64) throw new ProvisioningConfigError(`provisioning.subject.${key} must be 1..64 characters`);
    subject[key] = value;
  }
  if (!subject.commonName && !subject.serialNumber && !subject.organization) throw new ProvisioningConfigError("provisioning.subject must name at least one attribute");

  return {
    claim,
    operationalKeyIds,
    certificateTrustAnchors,
    renewBeforeMs: int(root, "renewBeforeMs", d.renewBeforeMs, 0, 3650 * 86_400_000, "provisioning."),
    templateName,
    topics,
    fields,
    parameters,
    subject,
    responseTimeoutMs: int(root, "responseTimeoutMs", d.responseTimeoutMs, 100, 600000, "provisioning."),
    maxResponseBytes: int(root, "maxResponseBytes", d.maxResponseBytes, 512, 65536, "provisioning."),
  };
}

/** The request topics with the template name filled in. */
export function requestTopics(config: ProvisioningConfig): { createCertificate: string; registerThing: string } {
  return {
    createCertificate: config.topics.createCertificate,
    registerThing: config.topics.registerThing.split("{templateName}").join(config.templateName),
  };
}
