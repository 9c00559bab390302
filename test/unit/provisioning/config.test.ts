import { utf8ToBytes } from "../../../modules/bytes/bytes.js";
import { DeviceConfigError, parseDeviceConfig } from "../../../modules/device/config.js";
import { MemoryStore } from "../../../modules/platform/storage.js";
import { DEFAULT_PROVISIONING_CONFIG, expandFacts, parseProvisioningConfig, requestTopics } from "../../../modules/provisioning/config.js";
import { ProvisioningConfigError } from "../../../modules/provisioning/errors.js";
import { decodeChain, encodeChain, EnrollmentState } from "../../../modules/provisioning/state.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";

describe("provisioning configuration", () => {
  it("defaults to AWS IoT fleet provisioning's MQTT API topics and fields", () => {
    const config = parseProvisioningConfig(undefined);
    // Topic names and fields from the AWS IoT Core developer guide, "Device provisioning MQTT API".
    assert.deepEqual(requestTopics(config), {
      createCertificate: "$aws/certificates/create-from-csr/json",
      registerThing: "$aws/provisioning-templates/iotsafe-fleet/provision/json",
    });
    assert.equal(config.topics.acceptedSuffix, "/accepted");
    assert.equal(config.topics.rejectedSuffix, "/rejected");
    assert.equal(config.fields.certificateSigningRequest, "certificateSigningRequest");
    assert.equal(config.fields.certificateOwnershipToken, "certificateOwnershipToken");
    assert.deepEqual(config.operationalKeyIds, ["06", "07"]);
    assert.deepEqual(config.claim, { privateKeyId: "01", certificateIds: ["02"], clientId: "provision-{iccid}" });
    assert.equal(config.renewBeforeMs, 30 * 86_400_000);
  });

  it("takes another template, topics and field names", () => {
    const config = parseProvisioningConfig({
      templateName: "factory_B",
      topics: { createCertificate: "prov/csr", registerThing: "prov/{templateName}/register", acceptedSuffix: "/ok", rejectedSuffix: "/ko" },
      fields: { certificatePem: "cert" },
      operationalKeyIds: ["0A"],
      subject: { commonName: "dev-{imei}" },
    });
    assert.deepEqual(requestTopics(config), { createCertificate: "prov/csr", registerThing: "prov/factory_B/register" });
    assert.equal(config.fields.certificatePem, "cert");
    assert.equal(config.fields.certificateId, DEFAULT_PROVISIONING_CONFIG.fields.certificateId);
    assert.deepEqual(config.operationalKeyIds, ["0a"]);
    assert.deepEqual(config.subject, { commonName: "dev-{imei}" });
  });

  for (const [label, input, pattern] of [
    ["an unknown setting", { colour: "blue" }, /unknown setting provisioning\.colour/],
    ["three containers", { operationalKeyIds: ["06", "07", "08"] }, /1\.\.2 hex IDs/],
    ["the same container twice", { operationalKeyIds: ["06", "06"] }, /two different containers/],
    ["the claim key's container", { operationalKeyIds: ["01"] }, /must not include the claim key/],
    ["a wildcard in a topic", { topics: { createCertificate: "a/+/b" } }, /must not hold \+ #/],
    ["equal suffixes", { topics: { acceptedSuffix: "/x", rejectedSuffix: "/x" } }, /must differ/],
    ["a template name with a slash", { templateName: "a/b" }, /templateName/],
    ["a trust anchor that is neither", { certificateTrustAnchors: ["hello"] }, /neither "sim:<file ID>" nor a PEM/],
    ["a non-hex claim key", { claim: { privateKeyId: "zz" } }, /hex/],
    ["a negative window", { renewBeforeMs: -1 }, /renewBeforeMs/],
  ] as const) {
    it(`refuses ${label}`, () => {
      assert.throws(() => parseProvisioningConfig(input), ProvisioningConfigError, pattern);
    });
  }

  it("expands {iccid} and {imei}, refusing unknown placeholders and missing facts", () => {
    assert.equal(expandFacts("provision-{iccid}-{imei}", { iccid: "8901", imei: "35" }, "x"), "provision-8901-35");
    assert.throws(() => expandFacts("{serial}", { iccid: "1", imei: "2" }, "x"), ProvisioningConfigError, /unknown placeholder \{serial\}/);
    assert.throws(() => expandFacts("{imei}", { iccid: "1", imei: "" }, "x"), ProvisioningConfigError, /IMEI/);
  });

  it("the device configuration takes a provisioning section, only with the modem network", () => {
    const config = parseDeviceConfig({ provisioning: { templateName: "t1" } });
    assert.equal(config.provisioning?.templateName, "t1");
    assert.equal(parseDeviceConfig({}).provisioning, undefined);
    assert.throws(() => parseDeviceConfig({ network: "direct", provisioning: {} }), DeviceConfigError, /network "modem"/);
  });
});

describe("provisioning state records", () => {
  const point = "04" + "ab".repeat(64);

  it("round-trips the pending steps and the active record", () => {
    const store = new MemoryStore();
    const state = new EnrollmentState(store, 2, new ManualPlatform());
    assert.equal(state.pending, undefined);
    state.setPending({ step: "generating", slot: 1 });
    assert.deepEqual(state.pending, { step: "generating", slot: 1 });
    state.setPending({ step: "certificate-issued", slot: 0, publicKey: point, certificateId: "abc", ownershipToken: "tok" });
    assert.deepEqual(state.pending, { step: "certificate-issued", slot: 0, publicKey: point, certificateId: "abc", ownershipToken: "tok" });
    state.setActive({ slot: 1, certificateId: "abc", thingName: "t", deviceConfiguration: { a: "1" } });
    assert.deepEqual(state.active, { slot: 1, certificateId: "abc", thingName: "t", deviceConfiguration: { a: "1" } });
  });

  it("treats records it did not write (torn, foreign, out of range) as absent", () => {
    const store = new MemoryStore();
    const platform = new ManualPlatform();
    const state = new EnrollmentState(store, 1, platform);
    for (const bad of ["", "{", "[]", "null", '{"step":"key-generated","slot":0,"publicKey":"04"}', '{"step":"teleport","slot":0}', '{"step":"generating","slot":1}']) {
      store.set("pending", utf8ToBytes(bad));
      assert.equal(state.pending, undefined, bad);
    }
    for (const bad of ['{"slot":1,"certificateId":"a","thingName":"t","deviceConfiguration":{}}', '{"slot":0,"certificateId":"","thingName":"t","deviceConfiguration":{}}', '{"slot":0}']) {
      store.set("active", utf8ToBytes(bad));
      assert.equal(state.active, undefined, bad);
    }
    assert.ok(platform.logs.some((l) => l.level === "warn"));
  });

  it("decodes a stored chain of DER certificates and refuses anything else", () => {
    const a = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01);
    const b = Uint8Array.of(0x30, 0x00);
    assert.deepEqual(decodeChain(encodeChain([a, b])), [a, b]);
    assert.equal(decodeChain(new Uint8Array(0)), undefined);
    assert.equal(decodeChain(Uint8Array.of(0x31, 0x00)), undefined, "not a SEQUENCE");
    assert.equal(decodeChain(Uint8Array.of(0x30, 0x05, 0x00)), undefined, "truncated");
    assert.equal(decodeChain(encodeChain([b, b, b, b, b])), undefined, "more than 4");
  });
});
