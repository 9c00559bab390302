import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, bytesToUtf8, toHex, utf8ToBytes } from "../../../modules/bytes/bytes.js";
import { CertificateError, decodePem, parseCertificate } from "../../../modules/crypto/x509.js";
import { objectId } from "../../../modules/iotsafe/objects.js";
import {
  CertificateChainError,
  CertificateKeyMismatchError,
  ClaimRejectedError,
  CsrRejectedError,
  ProvisioningResponseError,
  ProvisioningTimeoutError,
  RegistrationRejectedError,
} from "../../../modules/provisioning/errors.js";
import { nobleCrypto } from "../../../modules/crypto/noble-provider.js";
import { type OperationalIdentity, Provisioner } from "../../../modules/provisioning/provisioner.js";
import { SimFileCertificateStore } from "../../../modules/provisioning/state.js";
import * as assert from "../../lib/portable/assert.js";
import { readCsr } from "./fakes.js";
import { ICCID, IMEI, makeWorld, steps, type World } from "./world.js";

const DAY = 86_400_000;

/** What every provisioned device must satisfy: the SIM holds the certificate's key, and the cloud issued and activated it. */
async function assertWorking(world: World, identity: OperationalIdentity): Promise<void> {
  const leaf = parseCertificate(identity.chain[0]!);
  const simPoint = await world.sim.readPublicKey(objectId(identity.keyId));
  const key = leaf.subjectPublicKeyInfo.key;
  assert.ok(key && key.kind === "ec" && bytesEqual(key.point, simPoint), "the certificate carries the SIM's key");
  assert.equal(leaf.issuer.commonName, "operational CA");
  const record = world.cloud.recordOf(leaf.der);
  assert.ok(record?.active, "the cloud activated the certificate");
  // The credential signs with the SIM key, and the cloud accepts it on an operational connection.
  const digest = sha256(utf8ToBytes("telemetry"));
  assert.ok(p256.verify(await identity.credential.sign(0x0403, digest), digest, simPoint, { prehash: false, format: "der" }));
  const faults = world.cloud.faults;
  world.cloud.faults = {};
  const connection = await world.cloud.connect(identity.credential, identity.clientId);
  world.cloud.faults = faults;
  assert.equal((connection as unknown as { kind: string }).kind, "operational");
}

describe("provisioning: first boot", () => {
  it("generates the key in the SIM, sends a CSR signed by it, then stores, checks and registers the issued certificate", async () => {
    const world = makeWorld();
    const identity = await world.boot().ensure();

    assert.deepEqual(world.sim.operations, ["generate 06"]);
    const csrRequest = world.cloud.requests[0]!;
    assert.equal(csrRequest.topic, "$aws/certificates/create-from-csr/json");
    const csrPem = csrRequest.body["certificateSigningRequest"] as string;
    const csr = readCsr(decodePem(csrPem)[0]!.der);
    assert.ok(csr.signatureValid, "the CSR is signed with the key it carries");
    assert.deepEqual(csr.point, await world.sim.readPublicKey(objectId("06")));
    assert.equal(csr.commonName, ICCID);
    assert.equal(csr.serialNumber, IMEI);

    const register = world.cloud.requests[1]!;
    assert.equal(register.topic, "$aws/provisioning-templates/iotsafe-fleet/provision/json");
    assert.equal(register.body["certificateOwnershipToken"], world.cloud.issued[0]!.token);
    assert.deepEqual(register.body["parameters"], { SerialNumber: IMEI, ICCID });

    assert.equal(identity.clientId, ICCID);
    assert.equal(identity.thingName, ICCID);
    assert.equal(identity.keyId, "06");
    assert.equal(identity.enrolled, true);
    assert.deepEqual(identity.deviceConfiguration, { reportingIntervalSeconds: "60" });
    assert.deepEqual(identity.chain[0], world.cloud.issued[0]!.der);
    assert.deepEqual(world.cloud.connections, [{ clientId: `provision-${ICCID}`, kind: "claim" }]);
    assert.deepEqual(steps(world.events), ["check", "generate-key", "csr", "claim-connect", "certificate-request", "certificate-verified", "certificate-stored", "register", "committed"]);
    assert.deepEqual(world.store.inner.get("cert0"), identity.chain[0]);
    assert.equal(world.store.inner.get("pending"), undefined);
    await assertWorking(world, identity);
  });

  it("the claim key and certificate are never modified", async () => {
    const world = makeWorld();
    const claimKey = await world.sim.readPublicKey(objectId("01"));
    const claimCertificate = await world.sim.readFile(objectId("02"));
    await world.boot().ensure();
    assert.deepEqual(await world.sim.readPublicKey(objectId("01")), claimKey);
    assert.deepEqual(await world.sim.readFile(objectId("02")), claimCertificate);
  });

  it("a later boot uses the stored identity: no key generation, no cloud", async () => {
    const world = makeWorld();
    const first = await world.boot().ensure();
    world.events.length = 0;
    const second = await world.boot().ensure();
    assert.deepEqual(world.sim.operations, ["generate 06"]);
    assert.equal(world.cloud.connections.length, 1);
    assert.equal(second.enrolled, false);
    assert.equal(second.certificateId, first.certificateId);
    assert.deepEqual(steps(world.events), ["check"]);
    await assertWorking(world, second);
  });

  it("enrolls again when the SIM's key no longer matches the stored certificate", async () => {
    const world = makeWorld();
    await world.boot().ensure();
    world.sim.keys.set("06", { secret: undefined, writable: true }); // emptied behind the device's back
    const identity = await world.boot().ensure();
    assert.equal(identity.enrolled, true);
    assert.equal(world.cloud.issued.length, 2);
    await assertWorking(world, identity);
  });

  it("enrolls again when the stored records are not readable", async () => {
    const world = makeWorld();
    await world.boot().ensure();
    world.store.inner.set("active", utf8ToBytes("{not json"));
    world.store.inner.set("pending", Uint8Array.of(0xff, 0xfe));
    const identity = await world.boot().ensure();
    assert.equal(identity.enrolled, true);
    await assertWorking(world, identity);
  });
});

describe("provisioning: renewal", () => {
  it("renews into the other container within the window; the current identity is untouched until the commit", async () => {
    const world = makeWorld();
    const first = await world.boot().ensure();
    const oldKey = await world.sim.readPublicKey(objectId("06"));
    world.clockOffset = first.notAfter - world.platform.wallClock() - 10 * DAY; // 10 days left, window is 30
    const renewed = await world.boot().ensure();
    assert.equal(renewed.keyId, "07");
    assert.equal(renewed.enrolled, true);
    assert.deepEqual(await world.sim.readPublicKey(objectId("06")), oldKey);
    assert.deepEqual(world.sim.operations, ["generate 06", "generate 07"]);
    await assertWorking(world, renewed);
    // Next renewal goes back to 06.
    world.clockOffset = renewed.notAfter - world.platform.wallClock() - 1 * DAY;
    assert.equal((await world.boot().ensure()).keyId, "06");
  });

  it("keeps the current identity when a renewal fails", async () => {
    const world = makeWorld();
    const first = await world.boot().ensure();
    world.clockOffset = first.notAfter - world.platform.wallClock() - 5 * DAY;
    world.cloud.faults.rejectCsr = "Throttled";
    const kept = await world.boot().ensure();
    assert.equal(kept.keyId, "06");
    assert.equal(kept.certificateId, first.certificateId);
    assert.ok(kept.renewalError instanceof CsrRejectedError);
    assert.ok(world.events.some((e) => e.type === "renewal-failed"));
    await assertWorking(world, kept);
  });

  it("with one container, a renewal replaces the key in place", async () => {
    const world = makeWorld({ slots: 1 });
    const first = await world.boot().ensure();
    world.clockOffset = first.notAfter - world.platform.wallClock() - 2 * DAY;
    const renewed = await world.boot().ensure();
    assert.equal(renewed.keyId, "06");
    assert.notEqual(renewed.certificateId, first.certificateId);
    await assertWorking(world, renewed);
  });

  it("a pending record left by a commit cut short does not make a renewal reuse the old key", async () => {
    const world = makeWorld({ slots: 1 });
    const first = await world.boot().ensure();
    const key = toHex(await world.sim.readPublicKey(objectId("06")));
    // The state a cut between writing "active" and deleting "pending" leaves.
    world.store.inner.set("pending", utf8ToBytes(JSON.stringify({ step: "certificate-issued", slot: 0, publicKey: key, certificateId: first.certificateId, ownershipToken: world.cloud.issued[0]!.token })));
    world.clockOffset = first.notAfter - world.platform.wallClock() - 2 * DAY;
    const renewed = await world.boot().ensure();
    assert.deepEqual(world.sim.operations, ["generate 06", "generate 06"], "a new key for the renewal");
    assert.notEqual(toHex(await world.sim.readPublicKey(objectId("06"))), key);
    await assertWorking(world, renewed);
  });

  it("an expired certificate is replaced", async () => {
    const world = makeWorld();
    const first = await world.boot().ensure();
    world.clockOffset = first.notAfter - world.platform.wallClock() + DAY;
    const identity = await world.boot().ensure();
    assert.equal(identity.enrolled, true);
    assert.equal(identity.keyId, "06"); // the expired one in 06 was not usable: slot 0 again
    await assertWorking(world, identity);
  });
});

describe("provisioning: refusals and bad answers", () => {
  async function failsWith(configure: (world: World) => void, ErrorClass: new (...args: never[]) => Error, pattern: RegExp): Promise<{ world: World; error: Error }> {
    const world = makeWorld();
    configure(world);
    const error = await assert.rejects(world.boot().ensure(), ErrorClass, pattern);
    assert.equal(world.store.inner.get("active"), undefined, "nothing committed");
    // Once the cloud behaves, the next boot completes with the key already generated.
    world.cloud.faults = {};
    const identity = await world.boot().ensure();
    await assertWorking(world, identity);
    return { world, error };
  }

  it("claim refused during the TLS handshake: ClaimRejectedError", async () => {
    const { world, error } = await failsWith((w) => (w.cloud.faults.refuseClaimTls = true), ClaimRejectedError, /claim credential.*certificate_unknown/);
    assert.deepEqual(world.sim.operations, ["generate 06"], "the key generated before the refusal is reused");
    assert.ok((error as ClaimRejectedError).reason instanceof Error);
  });

  it("claim refused at CONNECT: ClaimRejectedError", async () => {
    await failsWith((w) => (w.cloud.faults.refuseClaimConnect = true), ClaimRejectedError, /claim credential.*not authorized/);
  });

  it("provisioning topics refused to the claim: ClaimRejectedError", async () => {
    await failsWith((w) => (w.cloud.faults.refuseSubscribe = true), ClaimRejectedError, /subscribe.*create-from-csr/);
  });

  it("CSR rejected: CsrRejectedError with the cloud's status and code", async () => {
    const { error } = await failsWith((w) => (w.cloud.faults.rejectCsr = "InvalidCsr"), CsrRejectedError, /certificate signing request: 400 InvalidCsr/);
    assert.equal((error as CsrRejectedError).statusCode, 400);
    assert.equal((error as CsrRejectedError).errorCode, "InvalidCsr");
  });

  it("certificate for another key: CertificateKeyMismatchError, nothing stored", async () => {
    const world = makeWorld();
    world.cloud.faults.wrongKey = true;
    await assert.rejects(world.boot().ensure(), CertificateKeyMismatchError, /not the SIM's key .* in container 06/);
    assert.equal(world.store.inner.get("cert0"), undefined);
    assert.equal(world.cloud.requests.length, 1, "no RegisterThing for a certificate that is not ours");
  });

  it("certificate that does not chain to the trust anchor: CertificateChainError", async () => {
    const { error } = await failsWith((w) => (w.cloud.faults.foreignIssuer = true), CertificateChainError, /does not chain to the configured trust anchors: .*rogue CA/);
    assert.ok((error as CertificateChainError).reason instanceof CertificateError);
    assert.equal(((error as CertificateChainError).reason as CertificateError).reason, "untrusted");
  });

  it("registration rejected: RegistrationRejectedError", async () => {
    await failsWith((w) => (w.cloud.faults.rejectRegistration = "ThingNotAllowed"), RegistrationRejectedError, /registration: 400 ThingNotAllowed/);
  });

  it("no answer: ProvisioningTimeoutError after responseTimeoutMs", async () => {
    const world = makeWorld();
    world.cloud.faults.silent = true;
    const running = world.boot().ensure();
    let settled = false;
    running.then(
      () => (settled = true),
      () => (settled = true),
    );
    await world.platform.advance(29_000);
    assert.equal(settled, false);
    await world.platform.advance(2_000);
    await assert.rejects(running, ProvisioningTimeoutError, /no answer on \$aws\/certificates\/create-from-csr\/json\/accepted/);
  });

  for (const [label, payload, pattern] of [
    ["not JSON", "<html>", /not JSON/],
    ["a JSON array", "[1,2]", /not a JSON object/],
    ["no certificatePem", JSON.stringify({ certificateId: "x", certificateOwnershipToken: "t" }), /no certificatePem/],
    ["a PEM that is not a certificate", JSON.stringify({ certificateId: "x", certificatePem: "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n", certificateOwnershipToken: "t" }), /no usable PEM/],
    ["an oversized answer", JSON.stringify({ pad: "x".repeat(9000) }), /exceeds the limit of 8192/],
  ] as const) {
    it(`an accepted answer with ${label}: ProvisioningResponseError`, async () => {
      await failsWith((w) => (w.cloud.faults.rawCertificateAnswer = payload), ProvisioningResponseError, pattern);
    });
  }
});

describe("provisioning: power cut at every step", () => {
  /** The number of effects (ticks) of a clean first enrollment. */
  function effectsOfCleanRun(slots: 1 | 2): Promise<number> {
    const world = makeWorld({ slots });
    return world
      .boot()
      .ensure()
      .then(() => world.power.ticks);
  }

  for (const slots of [2, 1] as const) {
    it(`first enrollment (${slots} container${slots === 1 ? "" : "s"}): a reboot after a cut at any effect ends provisioned`, async () => {
      const total = await effectsOfCleanRun(slots);
      assert.ok(total >= 12, `a clean run has ${total} effects`);
      let resumedRegistrations = 0;
      const template = makeWorld({ slots });
      for (let cut = 1; cut <= total; cut++) {
        const world = template.clone();
        world.power.cutAt = cut;
        await assert.rejects(world.boot().ensure(), Error, /power/, `cut at ${cut}`);
        world.power.restore();
        const identity = await world.boot().ensure();
        await assertWorking(world, identity);
        assert.equal(world.store.inner.get("pending"), undefined, `cut at ${cut}: nothing left pending`);
        if (world.cloud.issued.length === 1 && world.cloud.requests.filter((r) => r.topic.includes("provision")).length === 2) resumedRegistrations++;
      }
      assert.ok(resumedRegistrations > 0, "some cuts resume RegisterThing with the stored ownership token");
    });
  }

  it("renewal (2 containers): after a cut at any effect the device still has a working identity, even with the cloud unreachable", async () => {
    const reference = makeWorld();
    const first = await reference.boot().ensure();
    const before = reference.power.ticks;
    reference.clockOffset = first.notAfter - reference.platform.wallClock() - 10 * DAY;
    await reference.boot().ensure();
    const total = reference.power.ticks - before;
    const provisioned = makeWorld();
    const first2 = await provisioned.boot().ensure();
    provisioned.clockOffset = first2.notAfter - provisioned.platform.wallClock() - 10 * DAY;
    for (let cut = 1; cut <= total; cut++) {
      const world = provisioned.clone();
      world.power.cutAt = cut;
      await assert.rejects(world.boot().ensure(), Error, /power/);
      world.power.restore();
      world.cloud.faults.unreachable = true;
      const meanwhile = await world.boot().ensure();
      await assertWorking(world, meanwhile);
      world.cloud.faults = {};
      const renewed = await world.boot().ensure();
      assert.equal(renewed.keyId, "07", `cut at ${cut}: renewal completes into 07`);
      await assertWorking(world, renewed);
    }
  });

  it("an ownership token the cloud no longer honours after the reboot: a new certificate is requested for the same key", async () => {
    // Find the effect right after the issued certificate was recorded as pending, and cut there.
    const probe = makeWorld();
    await probe.boot().ensure();
    const issuedAt = probe.power.trace.indexOf("cloud request $aws/certificates/create-from-csr/json (after)");
    const recorded = probe.power.trace.indexOf("store set pending (after)", issuedAt);
    assert.ok(issuedAt >= 0 && recorded > issuedAt);
    const world = makeWorld();
    world.power.cutAt = recorded + 2;
    await assert.rejects(world.boot().ensure(), Error, /power/);
    world.power.restore();
    world.cloud.expireTokens();
    const identity = await world.boot().ensure();
    await assertWorking(world, identity);
    assert.ok(world.events.some((e) => e.type === "resume" && e.after === "certificate-issued"));
    assert.equal(world.cloud.issued.length, 2, "a second certificate was issued");
    assert.deepEqual(world.sim.operations, ["generate 06"], "for the same key");
  });
});

describe("provisioning: certificate in a writable SIM file", () => {
  it("stores the chain through the SIM writer and reads it back from the SIM on the next boot", async () => {
    const world = makeWorld();
    const writes: string[] = [];
    const certificateStore = new SimFileCertificateStore({
      files: [objectId("09"), objectId("0a")],
      read: (file) => world.sim.readFile(file),
      write: async (file, contents) => {
        writes.push(toHex(file.id!));
        world.sim.files.set(toHex(file.id!), contents.slice());
      },
    });
    const boot = () => new Provisioner({ sim: world.sim, store: world.store, config: world.config, platform: world.platform, provider: nobleCrypto, device: { iccid: ICCID, imei: IMEI }, connect: world.cloud.connect, certificateStore });
    const identity = await boot().ensure();
    assert.deepEqual(writes, ["09"]);
    assert.deepEqual(world.sim.files.get("09"), identity.chain[0]);
    assert.equal(world.store.inner.get("cert0"), undefined, "nothing in flash");
    const again = await boot().ensure();
    assert.equal(again.enrolled, false);
    assert.equal(again.certificateId, identity.certificateId);
  });
});

describe("provisioning: state records", () => {
  it("stores the certificate as DER in flash under cert<slot>", async () => {
    const world = makeWorld();
    const identity = await world.boot().ensure();
    assert.equal(toHex(world.store.inner.get("cert0")!), toHex(identity.chain[0]!));
    const active = JSON.parse(bytesToUtf8(world.store.inner.get("active")!)) as Record<string, unknown>;
    assert.equal(active["slot"], 0);
    assert.equal(active["certificateId"], identity.certificateId);
  });
});
