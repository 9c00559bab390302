/**
 * The device application's configuration, with documented defaults. On a board it comes from the
 * manifest's `config` (mc/config); on a desktop from the CLI (`iotsafe demo`), as JSON. Every field
 * is optional in the input; parseDeviceConfig fills in the defaults below and checks the rest.
 */
import { fromHex } from "../bytes/bytes.js";
import { DEFAULT_AIDS } from "../iotsafe/constants.js";
import { MODEM_DIALECT_NAMES, type ModemDialectName } from "../modem/types.js";
import { parseProvisioningConfig, type ProvisioningConfig } from "../provisioning/config.js";

export class DeviceConfigError extends Error {
  override name = "DeviceConfigError";
}

export interface ModemConfig {
  /** Which driver talks to the modem (modules/modem): one of MODEM_DIALECT_NAMES. Default "quectel-bg95". */
  dialect: ModemDialectName;
  /** Access point name of the data context. Default "internet". */
  apn: string;
  apnUser?: string;
  apnPassword?: string;
  /** SIM PIN, entered with AT+CPIN when the SIM asks for it. Default none. */
  pin?: string;
  /** SIM transports in the order to try; "auto" (default) is the dialect's own order (AT+CSIM first where it works). */
  simTransports: "auto" | readonly ("csim" | "cgla")[];
  /** How long network registration may take. Default 180000 ms (cellular attach can take minutes). */
  registrationTimeoutMs: number;
}

export interface BrokerConfig {
  /** Host name or address the modem connects to. Default "localhost". */
  host: string;
  /** Default 8883 (MQTT over TLS). */
  port: number;
  /** Name sent in the TLS server_name and checked against the broker's certificate. Default: host. */
  serverName: string;
  /** MQTT keep-alive. Default 60 s. */
  keepAliveSeconds: number;
  /** How long the TCP connect, the TLS handshake and CONNACK may take each. Default 60000 ms. */
  connectTimeoutMs: number;
  /** How long a PUBACK may take before the connection is declared dead. Default 30000 ms. */
  ackTimeoutMs: number;
  /**
   * Reconnect with the broker's TLS session ticket (TLS 1.3 resumption with a fresh ECDHE): no
   * certificates cross the air and the SIM signs nothing; the broker keeps the device's identity from
   * the first handshake. Tickets live in RAM, so the first connection after a boot is a full one.
   * Default true.
   */
  resumeSessions: boolean;
}

export interface IotSafeConfig {
  /** Applet AIDs, hex, tried in order. Default: GSMA IoT SAFE, then the two Thales applets. */
  aids: readonly string[];
  /** Object ID (hex) of the private key that signs the TLS CertificateVerify. Default "01". */
  privateKeyId: string;
  /** File IDs (hex) of the client certificate chain, leaf first. Default ["02"]. */
  certificateIds: readonly string[];
}

export interface OutboxConfig {
  /** Readings kept at most (in flash) while they wait for their PUBACK; the oldest go first. 2..10000, default 200. */
  capacity: number;
  /** QoS 1 messages sent before waiting for their PUBACKs (at most capacity - 1). Default 4. */
  inflight: number;
}

export interface BackoffConfig {
  /** First pause after a failure. Default 1000 ms. */
  initialMs: number;
  /** Longest pause. Default 60000 ms. */
  maxMs: number;
  /** Growth per consecutive failure. Default 2. */
  multiplier: number;
  /** Fraction of each pause drawn at random (0: fixed, 1: anywhere from 0 to the pause). Default 0.5. */
  jitter: number;
}

export interface DeviceConfig {
  modem: ModemConfig;
  /**
   * Where TLS runs: "modem" (default) through the modem's TCP sockets; "direct" over the byte link
   * the host attached as "net" (a desktop TCP connection; one connection per run, for hosts whose
   * modem has no sockets).
   */
  network: "modem" | "direct";
  broker: BrokerConfig;
  /**
   * Trust anchors for the broker's certificate: "sim:<file ID>" reads a DER certificate from that
   * IoT SAFE file; anything else is PEM text built into the firmware. Default ["sim:03"].
   */
  trustAnchors: readonly string[];
  /** MQTT topic of the readings; `{clientId}` becomes the CN of the SIM's certificate, `{sensor}` the sensor's name. Default "devices/{clientId}/telemetry". */
  topic: string;
  /** Sampling interval of sensors registered without one (the example sensor among them). Default 10000 ms. */
  publishIntervalMs: number;
  iotsafe: IotSafeConfig;
  outbox: OutboxConfig;
  backoff: BackoffConfig;
  /** Time limits of the boot phases (modem init, attach, SIM, certificate). Default 240000 ms each. */
  phaseTimeoutMs: number;
  /**
   * Touchless provisioning (modules/provisioning/config.ts): when present, the SIM generates the
   * operational key at first boot and the cloud issues its certificate, which the device keeps in
   * its storage; iotsafe.privateKeyId and certificateIds are then not used. Needs network "modem".
   * Default: absent (the SIM already holds the key and the certificate).
   */
  provisioning?: ProvisioningConfig;
}

function aidHex(aid: Uint8Array): string {
  let out = "";
  for (const b of aid) out += b.toString(16).padStart(2, "0");
  return out;
}

export const DEFAULT_DEVICE_CONFIG: DeviceConfig = {
  modem: { dialect: "quectel-bg95", apn: "internet", simTransports: "auto", registrationTimeoutMs: 180000 },
  network: "modem",
  broker: { host: "localhost", port: 8883, serverName: "localhost", keepAliveSeconds: 60, connectTimeoutMs: 60000, ackTimeoutMs: 30000, resumeSessions: true },
  trustAnchors: ["sim:03"],
  topic: "devices/{clientId}/telemetry",
  publishIntervalMs: 10000,
  iotsafe: { aids: DEFAULT_AIDS.map(aidHex), privateKeyId: "01", certificateIds: ["02"] },
  outbox: { capacity: 200, inflight: 4 },
  backoff: { initialMs: 1000, maxMs: 60000, multiplier: 2, jitter: 0.5 },
  phaseTimeoutMs: 240000,
};

type Json = Record<string, unknown>;

function section(input: Json, name: string): Json {
  const value = input[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new DeviceConfigError(`${name} must be an object`);
  return value as Json;
}

function checkKeys(input: Json, known: readonly string[], where: string): void {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) throw new DeviceConfigError(`unknown setting ${where}${key} (known: ${known.join(", ")})`);
  }
}

function str(input: Json, key: string, fallback: string, where: string, maxLength = 256): string {
  const value = input[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string") throw new DeviceConfigError(`${where}${key} must be a string`);
  if (value.length > maxLength) throw new DeviceConfigError(`${where}${key} is longer than ${maxLength} characters`);
  return value;
}

function optionalStr(input: Json, key: string, where: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  return str(input, key, "", where, 100);
}

function int(input: Json, key: string, fallback: number, min: number, max: number, where: string): number {
  const value = input[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new DeviceConfigError(`${where}${key} must be an integer ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function num(input: Json, key: string, fallback: number, min: number, max: number, where: string): number {
  const value = input[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new DeviceConfigError(`${where}${key} must be a number ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function flag(input: Json, key: string, fallback: boolean, where: string): boolean {
  const value = input[key];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new DeviceConfigError(`${where}${key} must be true or false`);
  return value;
}

function hexId(value: unknown, what: string): string {
  if (typeof value !== "string" || !/^([0-9A-Fa-f]{2}){1,16}$/.test(value)) throw new DeviceConfigError(`${what} must be 1..16 bytes of hex, not ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

function list(input: Json, key: string, fallback: readonly string[], where: string, maxItems: number): readonly unknown[] {
  const value = input[key];
  if (value === undefined || value === null) return fallback;
  if (!Array.isArray(value)) throw new DeviceConfigError(`${where}${key} must be a list`);
  if (value.length === 0 || value.length > maxItems) throw new DeviceConfigError(`${where}${key} must hold 1..${maxItems} entries`);
  return value;
}

/** Characters a topic name may not hold (MQTT-4.7.1-1) and a CN would have to be checked for. */
const TOPIC_WILDCARDS = /[+#\u0000]/;

function checkTopicTemplate(template: string): void {
  if (template.length === 0) throw new DeviceConfigError("topic must not be empty");
  if (TOPIC_WILDCARDS.test(template)) throw new DeviceConfigError(`topic ${JSON.stringify(template)} must not hold the wildcards + or #`);
  const placeholders = template.match(/\{[^}]*\}/g) ?? [];
  for (const p of placeholders) {
    if (p !== "{clientId}" && p !== "{sensor}") throw new DeviceConfigError(`topic ${JSON.stringify(template)}: unknown placeholder ${p} (use {clientId} or {sensor})`);
  }
}

/** The configuration `input` asks for, defaults filled in; DeviceConfigError on anything wrong. */
export function parseDeviceConfig(input: unknown): DeviceConfig {
  if (input === undefined || input === null) input = {};
  if (typeof input !== "object" || Array.isArray(input)) throw new DeviceConfigError("the device configuration must be an object");
  const root = input as Json;
  const d = DEFAULT_DEVICE_CONFIG;
  checkKeys(root, ["modem", "network", "broker", "trustAnchors", "topic", "publishIntervalMs", "iotsafe", "outbox", "backoff", "phaseTimeoutMs", "provisioning"], "");

  const m = section(root, "modem");
  checkKeys(m, ["dialect", "apn", "apnUser", "apnPassword", "pin", "simTransports", "registrationTimeoutMs"], "modem.");
  const dialect = str(m, "dialect", d.modem.dialect, "modem.");
  if (!(MODEM_DIALECT_NAMES as readonly string[]).includes(dialect)) {
    throw new DeviceConfigError(`modem.dialect ${JSON.stringify(dialect)} is not one of ${MODEM_DIALECT_NAMES.join(", ")}`);
  }
  const apn = str(m, "apn", d.modem.apn, "modem.", 100);
  if (/["\r\n]/.test(apn)) throw new DeviceConfigError("modem.apn must not hold quotes or line breaks");
  let simTransports: ModemConfig["simTransports"] = d.modem.simTransports;
  const rawTransports = m["simTransports"];
  if (rawTransports !== undefined && rawTransports !== null && rawTransports !== "auto") {
    const items = typeof rawTransports === "string" ? rawTransports.split(",") : rawTransports;
    if (!Array.isArray(items) || items.length === 0 || items.length > 2) throw new DeviceConfigError('modem.simTransports must be "auto" or a list of "csim" and "cgla"');
    for (const t of items) if (t !== "csim" && t !== "cgla") throw new DeviceConfigError(`modem.simTransports: ${JSON.stringify(t)} is not csim or cgla`);
    simTransports = items as ("csim" | "cgla")[];
  }
  const pin = optionalStr(m, "pin", "modem.");
  if (pin !== undefined && !/^[0-9]{4,8}$/.test(pin)) throw new DeviceConfigError("modem.pin must be 4..8 digits");
  const apnUser = optionalStr(m, "apnUser", "modem.");
  const apnPassword = optionalStr(m, "apnPassword", "modem.");
  const modem: ModemConfig = {
    dialect: dialect as ModemDialectName,
    apn,
    simTransports,
    registrationTimeoutMs: int(m, "registrationTimeoutMs", d.modem.registrationTimeoutMs, 1000, 3600000, "modem."),
    ...(pin !== undefined ? { pin } : {}),
    ...(apnUser !== undefined ? { apnUser } : {}),
    ...(apnPassword !== undefined ? { apnPassword } : {}),
  };

  const network = str(root, "network", d.network, "");
  if (network !== "modem" && network !== "direct") throw new DeviceConfigError(`network must be "modem" or "direct", not ${JSON.stringify(network)}`);

  const b = section(root, "broker");
  checkKeys(b, ["host", "port", "serverName", "keepAliveSeconds", "connectTimeoutMs", "ackTimeoutMs", "resumeSessions"], "broker.");
  const host = str(b, "host", d.broker.host, "broker.", 128);
  if (host.length === 0 || /[",\s]/.test(host)) throw new DeviceConfigError(`broker.host ${JSON.stringify(host)} is not a host name or address`);
  const broker: BrokerConfig = {
    host,
    port: int(b, "port", d.broker.port, 1, 65535, "broker."),
    serverName: str(b, "serverName", host, "broker.", 253),
    keepAliveSeconds: int(b, "keepAliveSeconds", d.broker.keepAliveSeconds, 0, 65535, "broker."),
    connectTimeoutMs: int(b, "connectTimeoutMs", d.broker.connectTimeoutMs, 100, 600000, "broker."),
    ackTimeoutMs: int(b, "ackTimeoutMs", d.broker.ackTimeoutMs, 100, 600000, "broker."),
    resumeSessions: flag(b, "resumeSessions", d.broker.resumeSessions, "broker."),
  };

  const trustAnchors = list(root, "trustAnchors", d.trustAnchors, "", 8).map((entry, i) => {
    if (typeof entry !== "string") throw new DeviceConfigError(`trustAnchors[${i}] must be a string`);
    if (entry.startsWith("sim:")) return `sim:${hexId(entry.slice(4), `trustAnchors[${i}] file ID`)}`;
    if (!entry.includes("-----BEGIN CERTIFICATE-----")) throw new DeviceConfigError(`trustAnchors[${i}] is neither "sim:<file ID>" nor a PEM certificate`);
    return entry;
  });

  const topic = str(root, "topic", d.topic, "", 200);
  checkTopicTemplate(topic);

  const s = section(root, "iotsafe");
  checkKeys(s, ["aids", "privateKeyId", "certificateIds"], "iotsafe.");
  const aids = list(s, "aids", d.iotsafe.aids, "iotsafe.", 8).map((aid, i) => {
    if (typeof aid !== "string" || !/^([0-9A-Fa-f]{2}){5,16}$/.test(aid)) throw new DeviceConfigError(`iotsafe.aids[${i}] must be an AID of 5..16 bytes in hex`);
    return aid.toLowerCase();
  });
  const iotsafe: IotSafeConfig = {
    aids,
    privateKeyId: hexId(s["privateKeyId"] ?? d.iotsafe.privateKeyId, "iotsafe.privateKeyId"),
    certificateIds: list(s, "certificateIds", d.iotsafe.certificateIds, "iotsafe.", 4).map((id, i) => hexId(id, `iotsafe.certificateIds[${i}]`)),
  };

  const o = section(root, "outbox");
  checkKeys(o, ["capacity", "inflight"], "outbox.");
  const outbox: OutboxConfig = {
    capacity: int(o, "capacity", d.outbox.capacity, 2, 10000, "outbox."),
    inflight: int(o, "inflight", d.outbox.inflight, 1, 64, "outbox."),
  };

  const k = section(root, "backoff");
  checkKeys(k, ["initialMs", "maxMs", "multiplier", "jitter"], "backoff.");
  const backoff: BackoffConfig = {
    initialMs: int(k, "initialMs", d.backoff.initialMs, 1, 3600000, "backoff."),
    maxMs: int(k, "maxMs", d.backoff.maxMs, 1, 86400000, "backoff."),
    multiplier: num(k, "multiplier", d.backoff.multiplier, 1, 10, "backoff."),
    jitter: num(k, "jitter", d.backoff.jitter, 0, 1, "backoff."),
  };
  if (backoff.maxMs < backoff.initialMs) throw new DeviceConfigError("backoff.maxMs must not be below backoff.initialMs");

  return {
    modem,
    network,
    broker,
    trustAnchors,
    topic,
    publishIntervalMs: int(root, "publishIntervalMs", d.publishIntervalMs, 10, 86400000, ""),
    iotsafe,
    outbox,
    backoff,
    phaseTimeoutMs: int(root, "phaseTimeoutMs", d.phaseTimeoutMs, 100, 3600000, ""),
    ...provisioningSection(root, network),
  };
}

function provisioningSection(root: Json, network: string): { provisioning?: ProvisioningConfig } {
  const input = root["provisioning"];
  if (input === undefined || input === null) return {};
  // Enrollment needs its own connections (claim, then operational) before telemetry: the modem's sockets.
  if (network !== "modem") throw new DeviceConfigError('provisioning needs network "modem" (the host link of "direct" serves one connection)');
  return { provisioning: parseProvisioningConfig(input) };
}

/** The AIDs as bytes (for IotSafeClient). */
export function aidBytes(config: DeviceConfig): Uint8Array[] {
  return config.iotsafe.aids.map((aid) => fromHex(aid));
}

export class DeviceIdentityError extends Error {
  override name = "DeviceIdentityError";
}

/**
 * The topic for a reading: the template with `{clientId}` and `{sensor}` replaced. A value that
 * would change the topic's structure (a '/', a wildcard) is refused rather than published under
 * a topic the cloud does not expect.
 */
export function expandTopic(template: string, values: { clientId: string; sensor?: string }): string {
  return template.replace(/\{(clientId|sensor)\}/g, (_match, name: "clientId" | "sensor") => {
    const value = values[name];
    if (value === undefined) throw new DeviceIdentityError(`topic ${JSON.stringify(template)} needs {${name}}`);
    if (value.length === 0 || /[/+#\u0000]/.test(value)) throw new DeviceIdentityError(`${name} ${JSON.stringify(value)} cannot go into a topic (empty, '/', '+', '#' or NUL)`);
    return value;
  });
}
