/**
 * The `provision` firmware entry point: boot the modem, open IoT SAFE, run touchless provisioning
 * (modules/provisioning/provisioner.ts) with the cloud reached through the modem's sockets, then
 * connect once with the operational identity and publish one message to show it works. It runs
 * inside XS through the XS runner (`iotsafe provision`) or on Node; the device app runs the same
 * Provisioner at boot.
 *
 * Arguments (JSON): modem {dialect, apn, pin, simTransports}, broker {host, port, serverName},
 * trustAnchors (for the broker's certificate: "sim:<file ID>" or PEM; default ["sim:03"]),
 * provisioning (config.ts), topic (default "devices/{clientId}/provisioned"; "" skips the check).
 * Progress goes to print() as PROVISION_EVENT_PREFIX + JSON lines; the state lives in the host's
 * storage domain "provision", so a run killed at any point resumes in the next one.
 */
import { AtEngine } from "../at/index.js";
import { fromHex, utf8ToBytes } from "../bytes/bytes.js";
import { nobleCrypto } from "../crypto/noble-provider.js";
import { TrustStore } from "../crypto/path.js";
import type { FirmwareContext, FirmwareEntry } from "../device/context.js";
import { EntryArgumentError } from "../device/context.js";
import { IotSafeClient, objectId } from "../iotsafe/index.js";
import { atEngineOptions, createModem, type Modem } from "../modem/index.js";
import { MODEM_DIALECT_NAMES } from "../modem/types.js";
import { MemoryStore } from "../platform/storage.js";
import { createAtCardAccess } from "../sim/index.js";
import { parseProvisioningConfig } from "./config.js";
import { tlsMqttConnector } from "./connect.js";
import { type ProvisioningEvent, Provisioner } from "./provisioner.js";

/** Prefix of the lines the entry prints: one JSON ProvisioningEntryEvent each. */
export const PROVISION_EVENT_PREFIX = "@provision ";

export type ProvisioningEntryEvent =
  | ProvisioningEvent
  | { type: "boot"; phase: "modem" | "network" | "sim"; ms: number; detail: string }
  | { type: "operational"; ms: number; detail: string };

/** Before this the platform's clock has not been set (2024-01-01). */
const CLOCK_SANITY_MS = 1704067200000;

type Json = Record<string, unknown>;

function object(args: unknown, name: string): Json {
  const value = (args as Json | null)?.[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new EntryArgumentError(`${name} must be an object`);
  return value as Json;
}

function text(input: Json, name: string, fallback: string | undefined, where: string): string {
  const value = input[name];
  if (value === undefined || value === null) {
    if (fallback === undefined) throw new EntryArgumentError(`missing ${where}${name}`);
    return fallback;
  }
  if (typeof value !== "string") throw new EntryArgumentError(`${where}${name} must be a string`);
  return value;
}

async function provisionEntry(args: unknown, { platform, link, print, store }: FirmwareContext): Promise<unknown> {
  const emit = (event: ProvisioningEntryEvent) => print(PROVISION_EVENT_PREFIX + JSON.stringify(event) + "\n");
  const config = parseProvisioningConfig((args as Json | null)?.["provisioning"]);
  const m = object(args, "modem");
  const dialect = text(m, "dialect", "quectel-bg95", "modem.");
  if (!(MODEM_DIALECT_NAMES as readonly string[]).includes(dialect)) throw new EntryArgumentError(`modem.dialect ${JSON.stringify(dialect)} is not one of ${MODEM_DIALECT_NAMES.join(", ")}`);
  const b = object(args, "broker");
  const host = text(b, "host", "localhost", "broker.");
  const port = Number(b["port"] ?? 8883);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new EntryArgumentError("broker.port must be 1..65535");
  const serverName = text(b, "serverName", host, "broker.");
  const anchorsArg = (args as Json | null)?.["trustAnchors"] ?? ["sim:03"];
  if (!Array.isArray(anchorsArg) || anchorsArg.some((a) => typeof a !== "string")) throw new EntryArgumentError("trustAnchors must be a list of strings");
  const topicTemplate = text((args as Json | null) ?? {}, "topic", "devices/{clientId}/provisioned", "");

  let provisionStore = store?.("provision");
  if (!provisionStore) {
    platform.log("warn", "provision", "this host has no durable storage: provisioning state lives in RAM and a reboot restarts the enrollment");
    provisionStore = new MemoryStore();
  }

  const started = platform.now();
  let mark = started;
  const since = () => {
    const now = platform.now();
    const ms = Math.round(now - mark);
    mark = now;
    return ms;
  };
  const at = new AtEngine(link("modem"), platform, atEngineOptions(dialect as (typeof MODEM_DIALECT_NAMES)[number]));
  let modem: Modem | undefined;
  let client: IotSafeClient | undefined;
  try {
    modem = createModem(dialect, at, platform);
    const pin = typeof m["pin"] === "string" ? m["pin"] : undefined;
    await modem.init(pin !== undefined ? { pin } : {});
    const identity = await modem.identity();
    emit({ type: "boot", phase: "modem", ms: since(), detail: `${identity.manufacturer} ${identity.model}, IMEI ${identity.imei}, ICCID ${identity.iccid}` });
    await modem.attach({ apn: text(m, "apn", "internet", "modem.") });
    let clockOffset = 0;
    if (platform.wallClock() < CLOCK_SANITY_MS) {
      try {
        clockOffset = (await modem.networkTime()).getTime() - platform.wallClock();
      } catch (error) {
        platform.log("warn", "provision", `no network time (${(error as Error).message}): certificate validity is checked against an unset clock`);
      }
    }
    const clock = () => platform.wallClock() + clockOffset;
    emit({ type: "boot", phase: "network", ms: since(), detail: "registered, data context up" });

    const access = createAtCardAccess(modem.simPort, { order: modem.simAccess.order, log: (level, message) => platform.log(level, "sim", message) });
    client = new IotSafeClient(access, { platform });
    await client.open();
    const anchors: (Uint8Array | string)[] = [];
    for (const anchor of anchorsArg as string[]) anchors.push(anchor.startsWith("sim:") ? await client.readFile(objectId(fromHex(anchor.slice(4)))) : anchor);
    emit({ type: "boot", phase: "sim", ms: since(), detail: `IoT SAFE applet open via ${access.current.name}; ${anchors.length} broker trust anchor${anchors.length === 1 ? "" : "s"}` });

    const owned = modem;
    const connect = tlsMqttConnector({
      openTransport: () => owned.openTcp(host, port),
      serverName,
      trustAnchors: new TrustStore(anchors),
      platform,
      provider: nobleCrypto,
      clock,
    });
    const apduBefore = client.counters.snapshot();
    const atBefore = at.counters.commandsSent;
    const provisioner = new Provisioner({
      sim: client,
      store: provisionStore,
      config,
      platform,
      provider: nobleCrypto,
      device: { iccid: identity.iccid, imei: identity.imei },
      connect,
      clock,
      onEvent: emit,
    });
    const operational = await provisioner.ensure();
    since();
    const apdus = client.counters.snapshot().apdus - apduBefore.apdus;
    const atCommands = at.counters.commandsSent - atBefore;

    let published: string | undefined;
    if (topicTemplate !== "") {
      const topic = topicTemplate.split("{clientId}").join(operational.clientId);
      const mqtt = await connect(operational.credential, operational.clientId);
      try {
        await mqtt.publish(topic, utf8ToBytes(JSON.stringify({ thingName: operational.thingName, certificateId: operational.certificateId, key: operational.keyId })), { qos: 1 });
      } finally {
        await mqtt.disconnect();
      }
      published = topic;
      emit({ type: "operational", ms: since(), detail: `connected as ${operational.clientId} with the operational key ${operational.keyId} in the SIM; published to ${topic} (PUBACK received)` });
    }
    return {
      clientId: operational.clientId,
      thingName: operational.thingName,
      certificateId: operational.certificateId,
      keyId: operational.keyId,
      enrolled: operational.enrolled,
      notAfter: new Date(operational.notAfter).toISOString(),
      renewalError: operational.renewalError?.message,
      published,
      provisioning: { apdus, atCommands },
      ms: Math.round(platform.now() - started),
    };
  } finally {
    await client?.close().catch(() => undefined);
    modem?.dispose();
    at.close();
  }
}

export const provisioningEntries: Record<string, FirmwareEntry> = {
  provision: provisionEntry,
};
