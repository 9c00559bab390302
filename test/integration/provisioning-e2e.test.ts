// Touchless provisioning end to end: the firmware's `provision` entry inside XS, a bootstrap SIM
// made by `iotsafe profile new --bootstrap`, the virtual modem (quectel-bg95, TLS through its
// sockets) and the virtual cloud with its provisioning service. Then the refusals and bad
// certificates, each with its own error, and a power cut (the XS process killed) after every step.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROVISION_EVENT_PREFIX, type ProvisioningEntryEvent } from "../../modules/provisioning/entries.js";
import type { DeviceEvent, DeviceSummary } from "../../modules/device/device.js";
import type { ProvisionResult } from "../../hosts/cli/commands/provision.js";
import { type Engine, runFirmware } from "../../hosts/cli/firmware-host.js";
import { fileStores } from "../../hosts/node/storage.js";
import { cardFromProfileFile, loadProfile } from "../../hosts/sim/card/iotsafe-card.js";
import { type ProvisioningCloud, startProvisioningCloud } from "../../hosts/sim/cloud/provisioning.js";
import { createDevCa, type DevCa, writeDevCa } from "../../hosts/sim/pki/dev-ca.js";
import { type RunningVirtualModem, startVirtualModem } from "../../hosts/sim/modem/index.js";
import type { XsRunner } from "../../hosts/sim/xs/runner.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { deviceEventLines } from "../lib/device-world.js";
import { cliPath, iotsafeCli } from "../lib/sim-world.js";

interface World {
  dir: string;
  /** A power cut takes the modem down too: a fresh virtual modem on the same SIM (the card's state is in its profile file). */
  restartModem(): Promise<void>;
  profilePath: string;
  storageDir: string;
  claimCa: DevCa;
  operationalCa: DevCa;
  serverCa: DevCa;
  provisioning: ProvisioningCloud;
  modem: RunningVirtualModem;
  iccid: string;
  close(): Promise<void>;
}

async function makeWorld(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "iotsafe-provision-"));
  const claimCa = createDevCa({ cn: "claim CA" });
  const operationalCa = createDevCa({ cn: "operational CA" });
  const serverCa = createDevCa({ cn: "server CA" });
  writeDevCa(claimCa, join(dir, "claim"));
  writeDevCa(operationalCa, join(dir, "operational"));
  writeDevCa(serverCa, join(dir, "server"));
  const profilePath = join(dir, "sim.json");
  const out = iotsafeCli(
    "profile", "new", "--bootstrap", "--out", profilePath,
    "--ca-cert", join(dir, "claim", "ca.pem"), "--ca-key", join(dir, "claim", "ca.key"), "--cn", "claim-batch-42",
    "--server-ca", join(dir, "server", "ca.pem"), "--operational-ca", join(dir, "operational", "ca.pem"),
  );
  const iccid = /ICCID (\d+)/.exec(out)![1]!;
  const provisioning = await startProvisioningCloud({ claimCa, operationalCa, devCa: serverCa, registryPath: join(dir, "registry.json") });
  const modem = await startVirtualModem({ card: await cardFromProfileFile(profilePath), dialect: "quectel-bg95", listen: { host: "127.0.0.1", port: 0 } });
  const world: World = {
    dir,
    async restartModem() {
      await world.modem.close();
      world.modem = await startVirtualModem({ card: await cardFromProfileFile(profilePath), dialect: "quectel-bg95", listen: { host: "127.0.0.1", port: 0 } });
    },
    profilePath,
    storageDir: join(dir, "storage"),
    claimCa,
    operationalCa,
    serverCa,
    provisioning,
    modem,
    iccid,
    async close() {
      await world.modem.close().catch(() => undefined);
      await world.provisioning.cloud.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

interface Run {
  events: ProvisioningEntryEvent[];
  done: Promise<{ result: ProvisionResult; peakHeapCount?: number; wallMs: number }>;
}

/** Runs the `provision` entry; with `killAfter`, kills XS (a power cut) once that many events were printed. */
function runProvision(world: World, options: { killAfter?: number; engine?: Engine } = {}): Run {
  const events: ProvisioningEntryEvent[] = [];
  let runner: XsRunner | undefined;
  let buffered = "";
  let killing: Promise<void> | undefined;
  const done = runFirmware<ProvisionResult>(
    "provision",
    { broker: { host: "127.0.0.1", port: world.provisioning.cloud.port, serverName: "localhost" } },
    {
      engine: options.engine ?? "xs",
      modem: `tcp://127.0.0.1:${world.modem.port}`,
      stores: fileStores(world.storageDir),
      logLevel: process.env.IOTSAFE_LOG === "info" ? "info" : "error",
      onRunner: (r) => (runner = r),
      output: (text) => {
        buffered += text;
        for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (!line.startsWith(PROVISION_EVENT_PREFIX)) continue;
          events.push(JSON.parse(line.slice(PROVISION_EVENT_PREFIX.length)) as ProvisioningEntryEvent);
          if (process.env.IOTSAFE_LOG) process.stderr.write(`  [provision event] ${line.slice(PROVISION_EVENT_PREFIX.length)}\n`);
          if (options.killAfter !== undefined && events.length === options.killAfter && runner) killing ??= runner.close();
        }
      },
    },
  );
  done.catch(() => undefined);
  return { events, done };
}

function label(event: ProvisioningEntryEvent): string {
  return event.type === "step" ? event.step : event.type === "boot" ? `boot ${event.phase}` : event.type;
}

/** The device holds a working operational identity: the SIM's key is the certificate's, the cloud activated it, telemetry from it arrives. */
async function assertProvisioned(world: World, result: ProvisionResult): Promise<void> {
  assert.equal(result.clientId, world.iccid, "CN = the ICCID the device put in its CSR");
  const record = world.provisioning.service.certificates.find((c) => c.certificateId === result.certificateId);
  assert.ok(record, "the cloud issued this certificate");
  assert.equal(record.status, "ACTIVE");
  const certificate = new X509Certificate(record.certificatePem);
  assert.ok(certificate.checkIssued(new X509Certificate(world.operationalCa.certificatePem)));
  // The SIM's operational container now holds the private key of the certificate's public key.
  const container = loadProfile(world.profilePath).objects.find((o) => o.kind === "private-key" && o.id === result.keyId)!;
  const jwk = certificate.publicKey.export({ format: "jwk" });
  const { createPrivateKey } = await import("node:crypto");
  const fromSim = createPrivateKey({ key: { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y!, d: Buffer.from(container.contents!, "hex").toString("base64url") }, format: "jwk" });
  assert.ok(fromSim, "the SIM's key pairs with the certificate (createPrivateKey checks the point)");
  // The certificate is stored in flash, as DER, for the slot in use.
  const slot = result.keyId === "06" ? 0 : 1;
  const stored = readFileSync(join(world.storageDir, "provision", `cert${slot}`));
  assert.equal(createHash("sha256").update(stored).digest("hex"), result.certificateId);
  // The operational identity published on its telemetry topic (the cloud attributed it by certificate).
  const message = world.provisioning.cloud.messages.find((m) => m.identity === world.iccid && m.topic === `devices/${world.iccid}/provisioned`);
  assert.ok(message, "the operational identity published");
}

describe("touchless provisioning end to end (XS, virtual modem, bootstrap SIM, provisioning cloud)", function () {
  this.timeout(120000);
  let world: World;
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  it("first boot: key generated in the SIM, CSR, certificate issued and registered, reconnect with the operational identity; the next boot reuses it", async () => {
    const before = loadProfile(world.profilePath);
    assert.ok(!before.objects.find((o) => o.id === "06" && o.kind === "private-key")?.contents, "container 06 starts empty");
    const first = runProvision(world);
    const { result, peakHeapCount, wallMs } = await first.done;
    assert.equal(result.enrolled, true);
    assert.equal(result.keyId, "06");
    assert.deepEqual(first.events.map(label), [
      "boot modem", "boot network", "boot sim",
      "check", "generate-key", "csr", "claim-connect", "certificate-request", "certificate-verified", "certificate-stored", "register", "committed",
      "operational",
    ]);
    await assertProvisioned(world, result);
    // The claim connection used only the provisioning topics; the operational one only telemetry.
    const claimMessages = world.provisioning.cloud.messages.filter((m) => m.identity === "claim-batch-42").map((m) => m.topic);
    assert.deepEqual(claimMessages, ["$aws/certificates/create-from-csr/json", "$aws/provisioning-templates/iotsafe-fleet/provision/json"]);
    assert.equal(world.provisioning.cloud.refusals.length, 0);
    // The claim key and certificate are as the vendor shipped them.
    const after = loadProfile(world.profilePath);
    for (const id of ["01", "02"]) assert.deepEqual(after.objects.find((o) => o.id === id), before.objects.find((o) => o.id === id));

    const second = runProvision(world);
    const again = (await second.done).result;
    assert.equal(again.enrolled, false);
    assert.equal(again.certificateId, result.certificateId);
    assert.deepEqual(second.events.map(label), ["boot modem", "boot network", "boot sim", "check", "operational"]);
    assert.equal(world.provisioning.service.certificates.length, 1, "no second certificate");
    process.stdout.write(
      `      first boot ${Math.round(wallMs)} ms (provisioning: ${result.provisioning.apdus} APDUs, ${result.provisioning.atCommands} AT commands; steps ${first.events.map((e) => `${label(e)} ${"ms" in e ? e.ms : ""}`).join(", ")}); second boot ${again.ms} ms, ${again.provisioning.apdus} APDUs; XS peak heap ${peakHeapCount}\n`,
    );
  });

  it("the claim refused by the cloud: ClaimRejectedError", async () => {
    world.provisioning.service.faults = { refuseClaim: true };
    await assert.rejects(runProvision(world).done, (error: Error) => {
      assert.equal(error.name, "ClaimRejectedError");
      assert.match(error.message, /refused this SIM's claim credential.*not authorized/);
      return true;
    });
    assert.ok(world.provisioning.cloud.refusals.some((r) => r.kind === "connect" && r.identity === "claim-batch-42"));
  });

  it("a claim certificate from a CA the cloud does not know: ClaimRejectedError (the server closes after the handshake)", async () => {
    // A second cloud that trusts another claim CA: the SIM's claim certificate fails the TLS handshake.
    await world.provisioning.cloud.close();
    world.provisioning = await startProvisioningCloud({ claimCa: createDevCa({ cn: "another claim CA" }), operationalCa: world.operationalCa, devCa: world.serverCa });
    await assert.rejects(runProvision(world).done, (error: Error) => {
      assert.equal(error.name, "ClaimRejectedError");
      assert.match(error.message, /claim credential.*most likely refused the client certificate/);
      return true;
    });
  });

  it("CSR rejected: CsrRejectedError; once the cloud accepts, the key generated before is used", async () => {
    world.provisioning.service.faults = { rejectCsr: "InvalidCsr" };
    await assert.rejects(runProvision(world).done, (error: Error) => {
      assert.equal(error.name, "CsrRejectedError");
      assert.match(error.message, /certificate signing request: 400 InvalidCsr/);
      return true;
    });
    const keyAfterFailure = loadProfile(world.profilePath).objects.find((o) => o.kind === "private-key" && o.id === "06")!.contents;
    world.provisioning.service.faults = {};
    const { result } = await runProvision(world).done;
    await assertProvisioned(world, result);
    assert.equal(loadProfile(world.profilePath).objects.find((o) => o.kind === "private-key" && o.id === "06")!.contents, keyAfterFailure);
  });

  it("a certificate for another key: CertificateKeyMismatchError, nothing registered", async () => {
    world.provisioning.service.faults = { wrongKey: true };
    await assert.rejects(runProvision(world).done, (error: Error) => {
      assert.equal(error.name, "CertificateKeyMismatchError");
      assert.match(error.message, /not the SIM's key .* in container 06/);
      return true;
    });
    assert.ok(world.provisioning.service.certificates.every((c) => c.status === "PENDING_ACTIVATION"));
    assert.ok(!existsSync(join(world.storageDir, "provision", "active")));
  });

  it("a certificate that does not chain to the operational CA: CertificateChainError", async () => {
    world.provisioning.service.faults = { foreignIssuer: createDevCa({ cn: "rogue CA" }) };
    await assert.rejects(runProvision(world).done, (error: Error) => {
      assert.equal(error.name, "CertificateChainError");
      assert.match(error.message, /does not chain to the configured trust anchors.*rogue CA/);
      return true;
    });
    assert.ok(!existsSync(join(world.storageDir, "provision", "active")));
  });

  it("registration rejected: RegistrationRejectedError", async () => {
    world.provisioning.service.faults = { rejectRegistration: "ThingQuotaExceeded" };
    await assert.rejects(runProvision(world).done, (error: Error) => {
      assert.equal(error.name, "RegistrationRejectedError");
      assert.match(error.message, /ThingQuotaExceeded/);
      return true;
    });
  });

  it("a power cut (XS killed) after any step: the next boot ends provisioned with a working credential", async function () {
    this.timeout(600000);
    const reference = runProvision(world);
    await reference.done;
    const steps = reference.events.length;
    const outcomes: string[] = [];
    for (let killAfter = 1; killAfter < steps; killAfter++) {
      await world.close();
      world = await makeWorld();
      const cut = runProvision(world, { killAfter });
      await assert.rejects(cut.done);
      assert.ok(cut.events.length >= killAfter, `the killed run got to event ${killAfter}`);
      await world.restartModem();
      const reboot = runProvision(world);
      const { result } = await reboot.done;
      await assertProvisioned(world, result);
      const resumed = reboot.events.find((e) => e.type === "resume");
      outcomes.push(`${label(cut.events[killAfter - 1]!)} → ${result.enrolled ? "enrolled" : "already provisioned"}${resumed && resumed.type === "resume" ? ` (resumed after ${resumed.after})` : ""}, ${world.provisioning.service.certificates.length} certificate(s)`);
      assert.ok(world.provisioning.service.certificates.filter((c) => c.status === "ACTIVE").length === 1, "exactly one active certificate");
    }
    process.stdout.write(`      ${outcomes.join("\n      ")}\n`);
  });

  it("the device application enrolls at boot; a power cut mid-enrollment, and the next boot publishes telemetry as the operational identity", async function () {
    const config = {
      broker: { host: "127.0.0.1", port: world.provisioning.cloud.port, serverName: "localhost" },
      publishIntervalMs: 150,
      backoff: { initialMs: 100, maxMs: 500 },
      provisioning: {},
    };
    const runDevice = (messages: number, killOn?: (event: DeviceEvent) => boolean) => {
      const events: DeviceEvent[] = [];
      let runner: XsRunner | undefined;
      const done = runFirmware<DeviceSummary>("device", { config, messages }, {
        engine: "xs",
        modem: `tcp://127.0.0.1:${world.modem.port}`,
        stores: fileStores(world.storageDir),
        logLevel: "error",
        onRunner: (r) => (runner = r),
        output: deviceEventLines((event) => {
          events.push(event);
          if (killOn?.(event)) void runner?.close();
        }),
      });
      done.catch(() => undefined);
      return { events, done };
    };
    const cut = runDevice(5, (e) => e.type === "provisioning" && e.event.type === "step" && e.event.step === "certificate-stored");
    await assert.rejects(cut.done);
    assert.ok(!existsSync(join(world.storageDir, "provision", "active")), "cut before the commit");
    await world.restartModem();
    const boot = runDevice(2);
    const { result } = await boot.done;
    assert.equal(result.clientId, world.iccid);
    assert.ok(result.acknowledged >= 2);
    assert.ok(boot.events.some((e) => e.type === "provisioning" && e.event.type === "resume" && e.event.after === "certificate-issued"), "resumed with the stored certificate");
    assert.equal(world.provisioning.service.certificates.length, 1, "no second certificate was needed");
    const telemetry = world.provisioning.cloud.messages.filter((m) => m.identity === world.iccid && m.topic === `devices/${world.iccid}/telemetry`);
    assert.ok(telemetry.length >= 2);
  });

  it("renews while connected: the connection ends when the certificate enters its renewal window, the next one presents the new certificate", async function () {
    // Issued certificates are valid 365 days: renewing 2.5 s after issuance means every certificate is due 2.5 s after it arrives.
    const config = {
      broker: { host: "127.0.0.1", port: world.provisioning.cloud.port, serverName: "localhost" },
      publishIntervalMs: 150,
      backoff: { initialMs: 100, maxMs: 500 },
      provisioning: { renewBeforeMs: 365 * 86_400_000 - 2500 },
    };
    const events: DeviceEvent[] = [];
    const presented: string[] = [];
    const onClient = (client: { identity: string; certificateDer: Uint8Array }) => {
      const id = createHash("sha256").update(client.certificateDer).digest("hex");
      if (client.identity === world.iccid && presented.at(-1) !== id) presented.push(id);
    };
    world.provisioning.cloud.events.on("client", onClient);
    const { result } = await runFirmware<DeviceSummary>("device", { config, messages: 30 }, {
      engine: "xs",
      modem: `tcp://127.0.0.1:${world.modem.port}`,
      stores: fileStores(world.storageDir),
      logLevel: "error",
      output: deviceEventLines((event) => events.push(event)),
    });
    assert.ok(result.acknowledged >= 30);
    assert.equal(result.failures, 0, "a renewal is not a failure");
    const renewals = events.filter((e) => e.type === "renewal-due").length;
    assert.ok(renewals >= 1, "the certificate came due while connected");
    const issued = world.provisioning.service.certificates;
    assert.ok(issued.length >= 2, `certificates issued: ${issued.length}`);
    // Every certificate issued after the first was presented by a later TLS connection to the cloud:
    // the new certificate's identity, not a session resumed with the old one.
    // The certificates the device's MQTT connections presented, in order: the renewed certificate's
    // identity after the renewal, not a session resumed with the old one.
    assert.deepEqual(presented.slice(0, 2), [issued[0]!.certificateId, issued[1]!.certificateId]);
    const telemetry = world.provisioning.cloud.messages.filter((m) => m.identity === world.iccid && m.topic === `devices/${world.iccid}/telemetry`);
    assert.ok(telemetry.length >= 30);
  });

  it("iotsafe provision (CLI) runs the flow in XS and reports the identity; a second run finds it", async () => {
    const args = ["provision", "--modem", `tcp://127.0.0.1:${world.modem.port}`, "--cloud", `127.0.0.1:${world.provisioning.cloud.port}`, "--server-name", "localhost", "--state", join(world.dir, "cli-storage")];
    // Asynchronously: the virtual modem and cloud live in this process.
    const cli = async () => (await promisify(execFile)(process.execPath, [cliPath, ...args])).stdout;
    const first = await cli();
    assert.match(first, /\[device\] provision generate-key\s+\d+ ms  P-256 key pair generated inside the SIM in container 06/);
    assert.match(first, new RegExp(`^provisioned: ${world.iccid} \\(thing ${world.iccid}, key 06 in the SIM`, "m"));
    assert.match(first, /\d+ APDUs and \d+ AT commands for provisioning/);
    const second = await cli();
    assert.match(second, new RegExp(`^already provisioned: ${world.iccid}`, "m"));
  });
});
