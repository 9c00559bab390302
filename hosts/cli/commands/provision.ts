// `iotsafe provision`: touchless provisioning in the firmware (inside XS by default): the SIM
// generates the operational key, the cloud issues its certificate over MQTT, the device reconnects
// with it. The state persists in --state, so a run that is killed resumes in the next one.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PROVISION_EVENT_PREFIX, type ProvisioningEntryEvent } from "../../../modules/provisioning/entries.js";
import { fileStores } from "../../node/storage.js";
import { loadProfile, saveProfile } from "../../sim/card/profile.js";
import { newBootstrapProfile } from "../../sim/card/profile-tools.js";
import { createDevCa, type DevCa, loadDevCaFiles, writeDevCa } from "../../sim/pki/dev-ca.js";
import { type Engine, runFirmware } from "../firmware-host.js";
import { registerCommand } from "../registry.js";

const USAGE = `usage: iotsafe provision --modem tcp://HOST:PORT --cloud HOST:PORT [--server-name NAME]
                        [--state DIR] [--dialect NAME] [--broker-ca CA.pem] [--operational-ca CA.pem]
                        [--config provisioning.json] [--topic T] [--engine xs|node] [--verbose]

Runs touchless provisioning in the firmware with the SIM behind the AT modem at --modem (a SIM
made with "iotsafe profile new --bootstrap"): the SIM generates the operational key pair, the
firmware sends a CSR signed by that key over MQTT to the cloud at --cloud with the SIM's claim
(bootstrap) credential, checks the certificate it gets (the SIM's key, chains to the operational
CA), stores it in --state (default state/provision-storage) and registers it; then connects with
the operational identity and publishes one message to --topic (default
devices/{clientId}/provisioned; "" skips it). A later run finds the identity and does not enroll
again; a killed run resumes.

  --broker-ca CA.pem       trust anchor for the cloud's server certificate (default: SIM file 03)
  --operational-ca CA.pem  trust anchor for the issued certificate (default: SIM file 08)
  --config FILE            provisioning settings as JSON (topics, template, containers...)`;

export interface ProvisionResult {
  clientId: string;
  thingName: string;
  certificateId: string;
  keyId: string;
  enrolled: boolean;
  notAfter: string;
  renewalError?: string;
  published?: string;
  provisioning: { apdus: number; atCommands: number };
  ms: number;
}

/** One readable line per firmware event (shared with the demo). */
export function formatProvisioningEvent(event: ProvisioningEntryEvent): string {
  switch (event.type) {
    case "boot":
      return `[device] ${event.phase.padEnd(22)}${String(event.ms).padStart(6)} ms  ${event.detail}`;
    case "step":
      return `[device] provision ${event.step.padEnd(21)}${String(event.ms).padStart(6)} ms  ${event.detail}`;
    case "resume":
      return `[device] provision resumes after "${event.after}" (slot ${event.slot}): ${event.detail}`;
    case "renewal-failed":
      return `[device] provision renewal failed, keeping the current identity: ${event.error}`;
    case "operational":
      return `[device] operational identity    ${String(event.ms).padStart(6)} ms  ${event.detail}`;
  }
}

function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new Error(`--cloud must be HOST:PORT, not ${JSON.stringify(text)}`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

registerCommand("provision", {
  summary: "touchless provisioning: key generated in the SIM, certificate from the cloud (CSR over MQTT)",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        modem: { type: "string" },
        cloud: { type: "string" },
        "server-name": { type: "string" },
        state: { type: "string", default: "state/provision-storage" },
        dialect: { type: "string", default: "quectel-bg95" },
        "broker-ca": { type: "string" },
        "operational-ca": { type: "string" },
        config: { type: "string" },
        topic: { type: "string" },
        engine: { type: "string", default: "xs" },
        verbose: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (values.help || !values.modem || !values.cloud) {
      process.stderr.write(USAGE + "\n");
      return values.help ? 0 : 2;
    }
    if (values.engine !== "xs" && values.engine !== "node") throw new Error("--engine must be xs or node");
    const cloud = parseHostPort(values.cloud);
    const provisioning = (values.config ? JSON.parse(readFileSync(values.config, "utf8")) : {}) as Record<string, unknown>;
    if (values["operational-ca"]) provisioning["certificateTrustAnchors"] = [readFileSync(values["operational-ca"], "utf8")];
    let buffered = "";
    const output = (text: string) => {
      buffered += text;
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith(PROVISION_EVENT_PREFIX)) process.stdout.write(formatProvisioningEvent(JSON.parse(line.slice(PROVISION_EVENT_PREFIX.length)) as ProvisioningEntryEvent) + "\n");
        else process.stdout.write(line + "\n");
      }
    };
    const { result, peakHeapCount, wallMs } = await runFirmware<ProvisionResult>(
      "provision",
      {
        modem: { dialect: values.dialect },
        broker: { host: cloud.host, port: cloud.port, serverName: values["server-name"] ?? cloud.host },
        ...(values["broker-ca"] ? { trustAnchors: [readFileSync(values["broker-ca"], "utf8")] } : {}),
        provisioning,
        ...(values.topic !== undefined ? { topic: values.topic } : {}),
      },
      { engine: values.engine as Engine, modem: values.modem, stores: fileStores(values.state!), logLevel: values.verbose ? "info" : "warn", output },
    );
    process.stdout.write(
      `${result.enrolled ? "provisioned" : "already provisioned"}: ${result.clientId} (thing ${result.thingName}, key ${result.keyId} in the SIM, certificate ${result.certificateId.slice(0, 16)}… valid to ${result.notAfter})` +
        `${result.renewalError ? `; renewal failed: ${result.renewalError}` : ""}\n` +
        `  ${result.provisioning.apdus} APDUs and ${result.provisioning.atCommands} AT commands for provisioning; ${(wallMs / 1000).toFixed(1)} s in all${peakHeapCount ? `; XS peak heap ${peakHeapCount} slots` : ""}\n`,
    );
    return 0;
  },
});

export interface BootstrapState {
  profilePath: string;
  claimCa: DevCa;
  operationalCa: DevCa;
  registryPath: string;
  iccid: string;
  /** A new bootstrap SIM was made for this run. */
  fresh: boolean;
}

/**
 * For the demo's touchless-provisioning mode: a claim CA and an operational CA (made once in `dir`,
 * distinct from the server's CA), and a bootstrap SIM (state/sim-bootstrap.json) — a new one when
 * `fresh` or when none exists, whose stale provisioning storage (`provisionStorageDir`) is removed.
 */
export async function prepareBootstrapState(dir: string, serverCa: DevCa, fresh: boolean, provisionStorageDir: string): Promise<BootstrapState> {
  const loadOrCreate = (name: string, cn: string): DevCa => {
    const sub = join(dir, name);
    if (!existsSync(join(sub, "ca.pem")) || !existsSync(join(sub, "ca.key"))) writeDevCa(createDevCa({ cn }), sub, true);
    return loadDevCaFiles(join(sub, "ca.pem"), join(sub, "ca.key"));
  };
  const claimCa = loadOrCreate("claim-ca", "iotsafe-xs claim CA");
  const operationalCa = loadOrCreate("operational-ca", "iotsafe-xs operational CA");
  const profilePath = join(dir, "sim-bootstrap.json");
  const make = fresh || !existsSync(profilePath);
  if (make) {
    const sim = await newBootstrapProfile(claimCa, { claimCn: "iotsafe-claim", serverCaDer: serverCa.certificateDer, operationalCaDer: operationalCa.certificateDer });
    saveProfile(profilePath, sim.profile);
    rmSync(provisionStorageDir, { recursive: true, force: true });
  }
  return { profilePath, claimCa, operationalCa, registryPath: join(dir, "registry.json"), iccid: loadProfile(profilePath).iccid ?? "", fresh: make };
}
