// The whole path a device takes to its SIM: IoT SAFE client → card access (AT+CSIM or
// AT+CCHO/CGLA) → AT engine → TCP byte link → virtual modem → virtual IoT SAFE card.
// Signatures are checked by node:crypto against the certificate read back through the same path.
import assert from "node:assert/strict";
import { createECDH, createHash, verify as nodeVerify, X509Certificate } from "node:crypto";
import { connectTcpLink } from "../../hosts/node/links.js";
import { nodePlatform } from "../../hosts/node/platform.js";
import { IotSafeCard } from "../../hosts/sim/card/iotsafe-card.js";
import { CME, CmeError, type RunningVirtualModem, startVirtualModem } from "../../hosts/sim/modem/index.js";
import { AtEngine } from "../../modules/at/engine.js";
import { AtTimeoutError } from "../../modules/at/errors.js";
import { IotSafeClient } from "../../modules/iotsafe/client.js";
import { SimClientCredential } from "../../modules/iotsafe/credential.js";
import { objectId } from "../../modules/iotsafe/objects.js";
import { createAtCardAccess, type SimTransportKind } from "../../modules/sim/fallback.js";
import { deviceProfile, type DeviceIdentity, makeDeviceIdentity } from "./iotsafe-helpers.js";

const digestOf = (text: string) => createHash("sha256").update(text).digest();

describe("iotsafe client over the AT engine and the virtual modem (TCP)", function () {
  let identity: DeviceIdentity;
  let card: IotSafeCard;
  let running: RunningVirtualModem;
  let engines: AtEngine[];
  /** Extended AT command names the modem received, in order. */
  let commands: string[];
  /** Set by a test to make the modem refuse AT+CSIM (as some firmware does). */
  let refuseCsim: boolean;
  /** Set by a test to delay the next sign update (INS 2B) by this many ms (a slow SIM). */
  let slowSignMs: number;

  before(function () {
    identity = makeDeviceIdentity();
  });

  beforeEach(async function () {
    commands = [];
    refuseCsim = false;
    slowSignMs = 0;
    engines = [];
    card = new IotSafeCard(deviceProfile(identity));
    running = await startVirtualModem({
      card,
      registrationDelayMs: 30,
      hooks: {
        beforeCommand(command) {
          if (command.name.startsWith("+C")) commands.push(command.name);
          if (refuseCsim && command.name === "+CSIM") throw new CmeError(CME.OPERATION_NOT_SUPPORTED);
          if (slowSignMs > 0 && command.name === "+CSIM" && /^\d+,"..2B/.test(command.args)) {
            const delay = slowSignMs;
            slowSignMs = 0;
            return new Promise((resolve) => setTimeout(resolve, delay));
          }
        },
      },
    });
  });

  afterEach(async function () {
    for (const engine of engines) engine.close();
    await running.close();
  });

  /** A fresh MCU boot: a new link and AT engine to the same (still powered) modem and SIM. */
  async function boot(): Promise<AtEngine> {
    const link = await connectTcpLink("127.0.0.1", running.port!);
    const engine = new AtEngine(link, nodePlatform({ logLevel: "error" }), { defaultTimeoutMs: 5000 });
    engines.push(engine);
    await engine.send("ATE0");
    await engine.send("AT+CMEE=1");
    return engine;
  }

  const transports: [SimTransportKind, string, string][] = [
    ["csim", "+CSIM", "+CGLA"],
    ["cgla", "+CGLA", "+CSIM"],
  ];
  for (const [kind, used, unused] of transports) {
    it(`reads the certificate and signs through ${used} only`, async function () {
      const engine = await boot();
      const client = new IotSafeClient(createAtCardAccess(engine, { order: [kind] }), { recoverStaleChannels: false });
      const credential = new SimClientCredential(client, { privateKey: objectId("01"), certificates: [objectId("02")] });
      const [leaf] = await credential.certificateChain();
      assert.deepEqual(Buffer.from(leaf!), identity.certificateDer);
      const key = new X509Certificate(Buffer.from(leaf!)).publicKey;
      const signature = await credential.sign(0x0403, digestOf("over the modem"));
      assert.ok(nodeVerify("sha256", Buffer.from("over the modem"), { key, dsaEncoding: "der" }, signature));
      assert.equal(client.lastOperation!.operation, "sign");
      assert.equal(client.lastOperation!.apdus, 4);
      assert.ok(commands.includes(used));
      assert.ok(!commands.includes(unused), `${unused} must not be used`);
      await client.close();
      assert.deepEqual(card.openChannels, []);
    });

    it(`computes ECDH through ${used}, equal to node:crypto`, async function () {
      const engine = await boot();
      const client = new IotSafeClient(createAtCardAccess(engine, { order: [kind] }), { recoverStaleChannels: false });
      const pair = await client.generateKeyPair(objectId("04"));
      const peer = createECDH("prime256v1");
      peer.generateKeys();
      const secret = await client.computeDhWithPeer(objectId("04"), objectId("05"), peer.getPublicKey());
      assert.deepEqual(Buffer.from(secret), peer.computeSecret(Buffer.from(pair.publicKey)));
    });
  }

  it("falls back to AT+CCHO/CGLA when the modem refuses AT+CSIM (+CME ERROR: 4)", async function () {
    refuseCsim = true;
    const engine = await boot();
    const access = createAtCardAccess(engine, { csim: { recoverChannels: [] } });
    const client = new IotSafeClient(access, { recoverStaleChannels: false });
    const signature = await client.signDigest(objectId("01"), digestOf("fallback"));
    const key = new X509Certificate(identity.certificateDer).publicKey;
    assert.ok(nodeVerify("sha256", Buffer.from("fallback"), { key, dsaEncoding: "der" }, signature.der));
    assert.match(access.current.name, /CCHO/);
    assert.equal(commands.filter((c) => c === "+CSIM").length, 1); // tried once, then remembered
    await client.signDigest(objectId("01"), digestOf("again"));
    assert.equal(commands.filter((c) => c === "+CSIM").length, 1);
  });

  it("survives a SIM slower than the timeout: the sign fails with AtTimeoutError, the next one runs on a fresh channel", async function () {
    const engine = await boot();
    const client = new IotSafeClient(createAtCardAccess(engine, { order: ["csim"] }), { recoverStaleChannels: false, timeouts: { sign: 1000 } });
    await client.open();
    assert.deepEqual(card.openChannels, [1]);
    slowSignMs = 2500;
    await assert.rejects(client.signDigest(objectId("01"), digestOf("slow")), AtTimeoutError);
    assert.ok(!client.isOpen);
    const signature = await client.signDigest(objectId("01"), digestOf("fast"));
    const key = new X509Certificate(identity.certificateDer).publicKey;
    assert.ok(nodeVerify("sha256", Buffer.from("fast"), { key, dsaEncoding: "der" }, signature.der));
    assert.equal(card.openChannels.length, 1, "the channel of the failed operation was closed");
  });

  it("recovers, after MCU reboots, the channels earlier boots left open on the still-powered SIM", async function () {
    for (let i = 0; i < 3; i++) {
      const engine = await boot();
      const leaky = new IotSafeClient(createAtCardAccess(engine, { order: ["cgla"] }), { recoverStaleChannels: false });
      await leaky.open(); // the MCU resets before closing anything
      engine.close();
    }
    assert.deepEqual(card.openChannels, [1, 2, 3]);
    const engine = await boot();
    // CCHC cannot name sessions it never saw, so recovery also closes channels 1..3 with AT+CSIM.
    const client = new IotSafeClient(createAtCardAccess(engine, { order: ["cgla", "csim"] }));
    const signature = await client.signDigest(objectId("01"), digestOf("after reboots"));
    assert.equal(signature.raw.length, 64);
    assert.deepEqual(card.openChannels.length, 1);
    await client.close();
    assert.deepEqual(card.openChannels, []);
  });
});
