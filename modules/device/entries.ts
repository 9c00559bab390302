/**
 * The firmware's entry points, by name. Hosts run them: the XS runner registers every one inside
 * the engine (hosts/sim/xs/firmware-entry.ts); the CLI's `--engine node` calls them directly.
 */
import { fromHex, toHex } from "../bytes/bytes.js";
import { certificateLabel, parseCertificate } from "../crypto/x509.js";
import { createSimCsr, csrToPem, objectId, SimClientCredential, ECDSA_SECP256R1_SHA256 } from "../iotsafe/index.js";
import type { SimTransportKind } from "../sim/index.js";
import { EntryArgumentError, type FirmwareContext, type FirmwareEntry, stringArg } from "./context.js";
import { MemoryStore } from "../platform/storage.js";
import { applicationSensors } from "./app-sensors.js";
import { boardHooksOverLink } from "./board-link.js";
import { parseDeviceConfig } from "./config.js";
import { Device } from "./device.js";
import { secureEcho } from "./secure-echo.js";
import { atDelta, openSimSession } from "./sim-session.js";
import { provisioningEntries } from "../provisioning/entries.js";

function transportsArg(args: unknown): SimTransportKind[] {
  const value = stringArg(args, "transport", "auto");
  if (value === "auto") return ["csim", "cgla"];
  if (value === "csim" || value === "cgla") return [value];
  throw new EntryArgumentError(`transport must be csim, cgla or auto, not ${value}`);
}

function idListArg(args: unknown, name: string, fallback: string): Uint8Array[] {
  return stringArg(args, name, fallback)
    .split(",")
    .filter((s) => s.length > 0)
    .map((s) => fromHex(s));
}

/**
 * Opens IoT SAFE through the modem, reads the certificate chain and signs a digest twice: once
 * cold (chain read from the SIM) and once with the chain cached, measuring the SIM traffic of each.
 */
async function iotsafeProbe(args: unknown, { platform, link }: FirmwareContext): Promise<unknown> {
  const digest = fromHex(stringArg(args, "digest"));
  const pin = (args as { pin?: string } | null)?.pin;
  const session = await openSimSession(link("modem"), platform, { transports: transportsArg(args), ...(pin ? { pin } : {}) });
  try {
    const credential = new SimClientCredential(session.client, {
      privateKey: objectId(stringArg(args, "keyId", "01")),
      certificates: idListArg(args, "certificateIds", "02").map((id) => objectId(id)),
    });
    const measure = async () => {
      const apduBefore = session.client.counters.snapshot();
      const atBefore = session.at.counters;
      const started = platform.now();
      const chain = await credential.certificateChain();
      const signature = await credential.sign(ECDSA_SECP256R1_SHA256, digest);
      const apduAfter = session.client.counters.snapshot();
      return {
        chain,
        signature,
        figures: {
          apdus: apduAfter.apdus - apduBefore.apdus,
          apduBytesSent: apduAfter.bytesSent - apduBefore.bytesSent,
          apduBytesReceived: apduAfter.bytesReceived - apduBefore.bytesReceived,
          at: atDelta(atBefore, session.at.counters),
          ms: Math.round(platform.now() - started),
        },
      };
    };
    const cold = await measure();
    const cached = await measure();
    return {
      identity: session.identity,
      transport: session.transport,
      certificates: cold.chain.map(toHex),
      signatures: [toHex(cold.signature), toHex(cached.signature)],
      cold: cold.figures,
      cached: cached.figures,
    };
  } finally {
    await session.close();
  }
}

/** A PKCS#10 request for a key pair in the SIM, signed by the SIM. */
async function csr(args: unknown, { platform, link }: FirmwareContext): Promise<unknown> {
  const session = await openSimSession(link("modem"), platform, { transports: transportsArg(args) });
  try {
    const keyId = objectId(stringArg(args, "keyId", "01"));
    const publicKeyId = stringArg(args, "publicKeyId", "");
    const dns = stringArg(args, "dns", "");
    const der = await createSimCsr(session.client, {
      subject: { commonName: stringArg(args, "cn") },
      privateKey: keyId,
      ...(publicKeyId ? { publicKey: objectId(publicKeyId) } : {}),
      ...(dns ? { dnsNames: dns.split(",") } : {}),
    });
    return { pem: csrToPem(der), transport: session.transport, identity: session.identity };
  } finally {
    await session.close();
  }
}

/**
 * The device's boot up to its identity: modem, SIM, IoT SAFE, the certificate held there. Each
 * phase is logged with its duration. (The telemetry loop comes with the device application.)
 */
async function deviceBoot(args: unknown, { platform, link }: FirmwareContext): Promise<unknown> {
  const started = platform.now();
  const session = await openSimSession(link("modem"), platform, { transports: transportsArg(args) });
  try {
    platform.log("info", "device", `modem ${session.identity.manufacturer} ${session.identity.model}, ICCID ${session.identity.iccid}; IoT SAFE via ${session.transport} (${Math.round(platform.now() - started)} ms)`);
    const leaf = parseCertificate(await session.client.readFile(objectId(stringArg(args, "certificateId", "02"))));
    const identity = certificateLabel(leaf);
    platform.log("info", "device", `device identity ${identity} from the SIM's certificate (${Math.round(platform.now() - started)} ms)`);
    return { identity, iccid: session.identity.iccid, transport: session.transport, ms: Math.round(platform.now() - started) };
  } finally {
    await session.close();
  }
}

/** Prefix of the lines the device entry prints: one JSON DeviceEvent each, for the host to show. */
export const DEVICE_EVENT_PREFIX = "@device ";

/**
 * The device application (modules/device/device.ts): boot, connect, publish the sensors' readings
 * until `messages` of them were acknowledged (or forever without it). Arguments: `config` (see
 * config.ts), `messages`, `board` (true: the host attached a link "board", see board-link.ts). Progress goes to print() as DEVICE_EVENT_PREFIX + JSON lines; the result
 * is the DeviceSummary. The outbox lives in the host's storage domain "outbox".
 */
async function deviceMain(args: unknown, { platform, link, print, store }: FirmwareContext): Promise<unknown> {
  const config = parseDeviceConfig((args as { config?: unknown } | null)?.config);
  const messages = (args as { messages?: unknown } | null)?.messages;
  if (messages !== undefined && messages !== null && (typeof messages !== "number" || !Number.isInteger(messages) || messages < 1)) {
    throw new EntryArgumentError("messages must be a positive integer");
  }
  let outboxStore = store?.("outbox");
  try {
    outboxStore?.keys();
  } catch (error) {
    // The XS bridge always offers storage; a host that attached none refuses every call.
    platform.log("warn", "device", `storage unavailable: ${(error as Error).message}`);
    outboxStore = undefined;
  }
  if (!outboxStore) {
    platform.log("warn", "device", "this host has no durable storage: the outbox lives in RAM and a reboot loses it");
    outboxStore = new MemoryStore();
  }
  // The host's "board" link (power key, reset pin) when it says it attached one.
  const board = (args as { board?: unknown } | null)?.board === true ? boardHooksOverLink(link("board"), platform) : undefined;
  const device = new Device({
    config,
    platform,
    modemLink: link("modem"),
    ...(board ? { board } : {}),
    netLink: () => link("net"),
    outboxStore,
    ...(config.provisioning ? { provisioningStore: store?.("provision") ?? new MemoryStore() } : {}),
    sensors: applicationSensors(platform),
    onEvent: (event) => print(DEVICE_EVENT_PREFIX + JSON.stringify(event) + "\n"),
    ...(typeof messages === "number" ? { stopAfterAcknowledged: messages } : {}),
  });
  return device.run();
}

export const firmwareEntries: Record<string, FirmwareEntry> = {
  device: deviceMain,
  "iotsafe-probe": iotsafeProbe,
  csr,
  "secure-echo": secureEcho,
  "device-boot": deviceBoot,
  ...provisioningEntries,
};
