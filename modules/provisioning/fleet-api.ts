/**
 * The cloud side of provisioning as the device sees it: two request/response exchanges over MQTT,
 * shaped after AWS IoT fleet provisioning's MQTT API —
 *
 *   CreateCertificateFromCsr  $aws/certificates/create-from-csr/json
 *        {certificateSigningRequest: PEM}  →  /accepted {certificateId, certificatePem, certificateOwnershipToken}
 *                                          |  /rejected {statusCode, errorCode, errorMessage}
 *   RegisterThing             $aws/provisioning-templates/{templateName}/provision/json
 *        {certificateOwnershipToken, parameters}  →  /accepted {deviceConfiguration, thingName}
 *                                                 |  /rejected {statusCode, errorCode, errorMessage}
 *
 * The answers come back on the connection that asked, once the device has subscribed to both answer
 * topics. Topic and field names come from the configuration. Every answer is treated as hostile:
 * bounded size, JSON of the expected shape, typed errors otherwise.
 */
import { bytesToUtf8 } from "../bytes/bytes.js";
import { CertificateError, pemToCertificates } from "../crypto/x509.js";
import type { MqttMessage } from "../mqtt/client.js";
import { MqttSubscribeRefusedError } from "../mqtt/errors.js";
import type { Platform } from "../platform/platform.js";
import { withTimeout } from "../platform/time.js";
import { type FieldConfig, type ProvisioningConfig, requestTopics } from "./config.js";
import {
  ClaimRejectedError,
  CsrRejectedError,
  ProvisioningResponseError,
  ProvisioningTimeoutError,
  RegistrationRejectedError,
} from "./errors.js";

/** The MQTT connection provisioning needs (modules/mqtt MqttClient has this shape). */
export interface ProvisioningMqtt {
  subscribe(filters: readonly string[], qos?: 0 | 1): Promise<unknown>;
  publish(topic: string, payload: Uint8Array | string, options?: { qos?: 0 | 1 }): Promise<void>;
  onMessage: ((message: MqttMessage) => void | Promise<void>) | undefined;
  /** DISCONNECT, then close the stream. */
  disconnect(): Promise<void>;
  /** Close the stream without DISCONNECT. */
  abort(): Promise<void>;
}

export interface IssuedCertificate {
  certificateId: string;
  /** DER certificates of certificatePem, leaf first. */
  chain: Uint8Array[];
  ownershipToken: string;
}

export interface Registration {
  thingName: string;
  deviceConfiguration: Record<string, string>;
}

const MAX_TOKEN_CHARS = 4096;
const MAX_ID_CHARS = 256;
const MAX_CONFIGURATION_ENTRIES = 32;

type Json = Record<string, unknown>;

function parseJsonObject(payload: Uint8Array, maxBytes: number, what: string): Json {
  if (payload.length > maxBytes) throw new ProvisioningResponseError(`${what}: answer of ${payload.length} bytes exceeds the limit of ${maxBytes}`);
  let value: unknown;
  try {
    value = JSON.parse(bytesToUtf8(payload));
  } catch {
    throw new ProvisioningResponseError(`${what}: the answer is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ProvisioningResponseError(`${what}: the answer is not a JSON object`);
  return value as Json;
}

function requiredString(body: Json, field: string, maxChars: number, what: string): string {
  const value = body[field];
  if (typeof value !== "string" || value.length === 0) throw new ProvisioningResponseError(`${what}: the answer has no ${field}`);
  if (value.length > maxChars) throw new ProvisioningResponseError(`${what}: ${field} is longer than ${maxChars} characters`);
  return value;
}

/** The fields of a `/rejected` answer; absent or mistyped fields stay undefined (the refusal stands). */
export function parseRejection(body: Json, fields: FieldConfig): { statusCode: number | undefined; errorCode: string | undefined; errorMessage: string | undefined; text: string } {
  const statusCode = typeof body[fields.statusCode] === "number" && Number.isInteger(body[fields.statusCode]) ? (body[fields.statusCode] as number) : undefined;
  const short = (value: unknown, max: number) => (typeof value === "string" ? (value.length > max ? `${value.slice(0, max)}…` : value) : undefined);
  const errorCode = short(body[fields.errorCode], 128);
  const errorMessage = short(body[fields.errorMessage], 512);
  const text = [statusCode !== undefined ? String(statusCode) : undefined, errorCode, errorMessage].filter((s) => s !== undefined).join(" ") || "no reason given";
  return { statusCode, errorCode, errorMessage, text };
}

export class FleetProvisioningClient {
  readonly #mqtt: ProvisioningMqtt;
  readonly #config: ProvisioningConfig;
  readonly #platform: Platform;
  readonly #subscribed = new Set<string>();
  #waiter: { topics: readonly string[]; resolve(message: MqttMessage): void } | undefined;

  constructor(mqtt: ProvisioningMqtt, config: ProvisioningConfig, platform: Platform) {
    this.#mqtt = mqtt;
    this.#config = config;
    this.#platform = platform;
    mqtt.onMessage = (message) => {
      const waiter = this.#waiter;
      if (waiter && waiter.topics.indexOf(message.topic) >= 0) {
        this.#waiter = undefined;
        waiter.resolve(message);
      } else {
        this.#platform.log("debug", "provision", `ignored a message on ${JSON.stringify(message.topic)}`);
      }
    };
  }

  /** CreateCertificateFromCsr: the cloud signs the request; the certificate is not active until RegisterThing. */
  async createCertificateFromCsr(csrPem: string): Promise<IssuedCertificate> {
    const f = this.#config.fields;
    const what = "CreateCertificateFromCsr";
    const answer = await this.#request(requestTopics(this.#config).createCertificate, { [f.certificateSigningRequest]: csrPem }, what);
    if (!answer.accepted) {
      const r = parseRejection(answer.body, f);
      throw new CsrRejectedError(`the cloud rejected the certificate signing request: ${r.text}`, r.statusCode, r.errorCode, r.errorMessage);
    }
    const certificateId = requiredString(answer.body, f.certificateId, MAX_ID_CHARS, what);
    const pem = requiredString(answer.body, f.certificatePem, this.#config.maxResponseBytes, what);
    const ownershipToken = requiredString(answer.body, f.certificateOwnershipToken, MAX_TOKEN_CHARS, what);
    let chain: Uint8Array[];
    try {
      chain = pemToCertificates(pem);
    } catch (error) {
      if (error instanceof CertificateError) throw new ProvisioningResponseError(`${what}: ${f.certificatePem} holds no usable PEM certificate (${error.message})`);
      throw error;
    }
    if (chain.length > 4) throw new ProvisioningResponseError(`${what}: ${f.certificatePem} holds ${chain.length} certificates (at most 4)`);
    return { certificateId, chain, ownershipToken };
  }

  /** RegisterThing: proves ownership of the new certificate and activates it. */
  async registerThing(ownershipToken: string, parameters: Readonly<Record<string, string>>): Promise<Registration> {
    const f = this.#config.fields;
    const what = "RegisterThing";
    const answer = await this.#request(requestTopics(this.#config).registerThing, { [f.certificateOwnershipToken]: ownershipToken, [f.parameters]: parameters }, what);
    if (!answer.accepted) {
      const r = parseRejection(answer.body, f);
      throw new RegistrationRejectedError(`the cloud rejected the registration: ${r.text}`, r.statusCode, r.errorCode, r.errorMessage);
    }
    const thingName = requiredString(answer.body, f.thingName, 128, what);
    const raw = answer.body[f.deviceConfiguration];
    const deviceConfiguration: Record<string, string> = {};
    if (raw !== undefined && raw !== null) {
      if (typeof raw !== "object" || Array.isArray(raw)) throw new ProvisioningResponseError(`${what}: ${f.deviceConfiguration} is not an object`);
      const entries = Object.entries(raw as Json);
      if (entries.length > MAX_CONFIGURATION_ENTRIES) throw new ProvisioningResponseError(`${what}: ${f.deviceConfiguration} has more than ${MAX_CONFIGURATION_ENTRIES} entries`);
      for (const [key, value] of entries) {
        if (typeof value !== "string") throw new ProvisioningResponseError(`${what}: ${f.deviceConfiguration}.${key} is not a string`);
        deviceConfiguration[key] = value;
      }
    }
    return { thingName, deviceConfiguration };
  }

  async #request(requestTopic: string, body: Json, what: string): Promise<{ accepted: boolean; body: Json }> {
    const t = this.#config.topics;
    const accepted = requestTopic + t.acceptedSuffix;
    const rejected = requestTopic + t.rejectedSuffix;
    if (!this.#subscribed.has(requestTopic)) {
      try {
        await this.#mqtt.subscribe([accepted, rejected], 1);
      } catch (error) {
        if (error instanceof MqttSubscribeRefusedError) {
          throw new ClaimRejectedError(`the cloud does not let this SIM's claim credential subscribe to the ${what} answer topics (${error.refused.join(", ")})`, error);
        }
        throw error;
      }
      this.#subscribed.add(requestTopic);
    }
    const answer = new Promise<MqttMessage>((resolve) => {
      this.#waiter = { topics: [accepted, rejected], resolve };
    });
    try {
      await this.#mqtt.publish(requestTopic, JSON.stringify(body), { qos: 1 });
      const ms = this.#config.responseTimeoutMs;
      const message = await withTimeout(this.#platform, answer, ms, () => new ProvisioningTimeoutError(`${what}: no answer on ${accepted} or ${rejected} within ${ms} ms`));
      return { accepted: message.topic === accepted, body: parseJsonObject(message.payload, this.#config.maxResponseBytes, what) };
    } finally {
      this.#waiter = undefined;
    }
  }
}
