// The virtual card's profile: validation, the persist callback, and state surviving a reload
// from the profile file (generated keys, PUT public keys).
import assert from "node:assert/strict";
import { createECDH } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IotSafeCard, cardFromProfileFile } from "../../hosts/sim/card/iotsafe-card.js";
import {
  PROFILE_FORMAT,
  ProfileError,
  loadProfile,
  saveProfile,
  standardProfileSkeleton,
  validateProfile,
  type SimProfile,
} from "../../hosts/sim/card/profile.js";
import { KEY01_SCALAR, openAndSelect, send, testObjects, testProfile } from "./card-fixtures.js";

describe("card persistence", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "card-profile-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("persist receives the updated profile after GENERATE KEY PAIR and PUT PUBLIC KEY, not after reads or signatures", async () => {
    const saved: SimProfile[] = [];
    const card = new IotSafeCard(testProfile(), { persist: (p) => saved.push(p) });
    await openAndSelect(card);
    await send(card, "81CB000044");
    await send(card, "812A00010D840101A1010391020001920104");
    await send(card, "812B8001229E20" + "00".repeat(32));
    await send(card, "81B000000383010200");
    assert.equal(saved.length, 0);
    const generated = await send(card, "81B9000003840104");
    assert.equal(saved.length, 1);
    const scalar = saved[0]!.objects.find((o) => o.kind === "private-key" && o.id === "04")!.contents!;
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(Buffer.from(scalar, "hex"));
    assert.equal(generated.slice(24, -4), ecdh.getPublicKey("hex", "uncompressed").toUpperCase(), "stored scalar matches the answered point");

    const peer = createECDH("prime256v1").generateKeys("hex", "uncompressed").toUpperCase();
    await send(card, "8124000203850105");
    await send(card, "81D8800247344549438641" + peer);
    assert.equal(saved.length, 2);
    assert.equal(saved[1]!.objects.find((o) => o.kind === "public-key" && o.id === "05")!.contents, peer.toLowerCase());
  });

  it("keys generated and peer keys PUT survive a reload from the profile file (cardFromProfileFile)", async () => {
    const path = join(dir, "sim.json");
    saveProfile(path, testProfile());
    const card = await cardFromProfileFile(path);
    await openAndSelect(card);
    const generated = await send(card, "81B9000003840104");
    const peer = createECDH("prime256v1");
    const peerPoint = peer.generateKeys("hex", "uncompressed").toUpperCase();
    await send(card, "8124000203850105");
    await send(card, "81D8800247344549438641" + peerPoint);
    await send(card, "8124010200");

    const reloaded = await cardFromProfileFile(path);
    await openAndSelect(reloaded);
    const cardPoint = generated.slice(24, -4);
    assert.equal(await send(reloaded, "81CD000003850104"), "344549438641" + cardPoint + "9000");
    assert.equal(await send(reloaded, "81CD000003850105"), "344549438641" + peerPoint + "9000");
    // ECDH works straight away: the peer key was kept.
    const expected = peer.computeSecret(Buffer.from(cardPoint, "hex")).toString("hex").toUpperCase();
    assert.equal(await send(reloaded, "8146000006840104850105"), expected + "9000");
    // The file holds private keys: owner-only.
    assert.equal(statSync(path).mode & 0o077, 0);
  });

  it("the card works on its own copy: the caller's profile object is not changed", async () => {
    const profile = testProfile();
    const before = JSON.stringify(profile);
    const card = new IotSafeCard(profile);
    await openAndSelect(card);
    await send(card, "81B9000003840104");
    assert.equal(JSON.stringify(profile), before);
    assert.notEqual(JSON.stringify(card.profile), before);
  });

  it("saveProfile / loadProfile round trip; the standard skeleton is valid", () => {
    const path = join(dir, "p.json");
    const profile = testProfile({ responseDelivery: "get-response", maxChannels: 19 });
    profile.iccid = "8944500000000000001";
    saveProfile(path, profile);
    assert.deepEqual(loadProfile(path), validateProfile(profile));
    assert.doesNotThrow(() => validateProfile(standardProfileSkeleton("dev")));
    assert.doesNotThrow(() => new IotSafeCard(standardProfileSkeleton()));
  });

  it("bad profiles are refused with ProfileError naming the field", () => {
    const cases: [unknown, RegExp][] = [
      [{ format: "other", objects: [] }, /format/],
      [{ format: PROFILE_FORMAT }, /objects/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "key", id: "01" }] }, /objects\[0\]\.kind/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "file", id: "0g" }] }, /objects\[0\]\.id/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "file", id: "" }] }, /objects\[0\]\.id/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "file", id: "01" }, { kind: "file", id: "01" }] }, /duplicate file id 01/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "private-key", id: "01", contents: "0102" }] }, /contents/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "file", id: "01", label: "x".repeat(61) }] }, /label/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "file", id: "01", colour: "red" }] }, /unknown field "colour"/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "file", id: "01", usage: "tls13-certificate-verify" }] }, /usage/],
      [{ format: PROFILE_FORMAT, objects: [{ kind: "secret", id: "01", keyType: "p256" }] }, /keyType/],
      [{ format: PROFILE_FORMAT, objects: [], options: { wrongLe: "7C" } }, /options\.wrongLe/],
      [{ format: PROFILE_FORMAT, objects: [], options: { maxChannels: 20 } }, /options\.maxChannels/],
      [{ format: PROFILE_FORMAT, objects: [], options: { colour: 1 } }, /options\.colour/],
      [{ format: PROFILE_FORMAT, objects: [], options: { aids: ["a000"] } }, /options\.aids/],
      [{ format: PROFILE_FORMAT, objects: [], iccid: "12ab" }, /iccid/],
    ];
    for (const [raw, message] of cases) assert.throws(() => validateProfile(raw), (e: unknown) => e instanceof ProfileError && message.test(e.message), JSON.stringify(raw));
  });

  it("a scalar that is not a P-256 key, or a public key off the curve, is refused when the card is built", () => {
    const zero = testProfile({}, [{ kind: "private-key", id: "01", contents: "00".repeat(32) }]);
    assert.throws(() => new IotSafeCard(zero), ProfileError);
    const offCurve = testProfile({}, [{ kind: "public-key", id: "05", contents: "04" + "11".repeat(64) }]);
    assert.throws(() => new IotSafeCard(offCurve), ProfileError);
    assert.doesNotThrow(() => new IotSafeCard(testProfile({}, [{ kind: "private-key", id: "01", contents: KEY01_SCALAR }])));
  });

  it("loadProfile reports unreadable files and bad JSON as ProfileError with the path", () => {
    assert.throws(() => loadProfile(join(dir, "missing.json")), (e: unknown) => e instanceof ProfileError && /missing\.json/.test(e.message));
    const path = join(dir, "bad.json");
    writeFileSync(path, "{ not json");
    assert.throws(() => loadProfile(path), (e: unknown) => e instanceof ProfileError && /not JSON/.test(e.message));
    writeFileSync(path, JSON.stringify({ format: PROFILE_FORMAT, objects: testObjects() }));
    assert.equal(loadProfile(path).objects.length, testObjects().length);
    assert.ok(readFileSync(path, "utf8").length > 0);
  });
});
