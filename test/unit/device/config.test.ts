// Device configuration: the documented defaults, overrides, refusal of anything malformed, and the
// topic template.
import { DeviceConfigError, DeviceIdentityError, expandTopic, parseDeviceConfig } from "../../../modules/device/config.js";
import * as assert from "../../lib/portable/assert.js";

describe("device configuration", () => {
  it("fills in the documented defaults", () => {
    const c = parseDeviceConfig({});
    assert.equal(c.modem.dialect, "quectel-bg95");
    assert.equal(c.modem.apn, "internet");
    assert.equal(c.modem.simTransports, "auto");
    assert.equal(c.network, "modem");
    assert.deepEqual([c.broker.host, c.broker.port, c.broker.serverName, c.broker.keepAliveSeconds], ["localhost", 8883, "localhost", 60]);
    assert.deepEqual(c.trustAnchors, ["sim:03"]);
    assert.equal(c.topic, "devices/{clientId}/telemetry");
    assert.equal(c.publishIntervalMs, 10000);
    // GSMA IoT SAFE AID first (iotsafe.md), then the two Thales applets.
    assert.equal(c.iotsafe.aids[0], "a0000005590010");
    assert.equal(c.iotsafe.aids.length, 3);
    assert.deepEqual([c.iotsafe.privateKeyId, c.iotsafe.certificateIds], ["01", ["02"]]);
    assert.deepEqual(c.outbox, { capacity: 200, inflight: 4 });
    assert.deepEqual(c.backoff, { initialMs: 1000, maxMs: 60000, multiplier: 2, jitter: 0.5 });
    assert.deepEqual(parseDeviceConfig(undefined), c, "no configuration at all is the defaults");
  });

  it("takes overrides; the TLS server name follows the broker host unless given", () => {
    const c = parseDeviceConfig({
      modem: { dialect: "generic", apn: "iot.example", pin: "1234", simTransports: ["cgla"] },
      network: "direct",
      broker: { host: "broker.example", port: 1884 },
      trustAnchors: ["sim:0A", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"],
      topic: "fleet/{clientId}/{sensor}",
      publishIntervalMs: 500,
      iotsafe: { aids: ["A0000005591010FFFFFFFF8900000400"], privateKeyId: "10", certificateIds: ["11", "12"] },
      outbox: { capacity: 10, inflight: 2 },
      backoff: { initialMs: 10, maxMs: 100, multiplier: 3, jitter: 0 },
    });
    assert.equal(c.modem.dialect, "generic");
    assert.equal(c.modem.pin, "1234");
    assert.deepEqual(c.modem.simTransports, ["cgla"]);
    assert.equal(c.broker.serverName, "broker.example");
    assert.equal(c.trustAnchors[0], "sim:0a");
    assert.deepEqual(c.iotsafe.certificateIds, ["11", "12"]);
    assert.equal(c.iotsafe.aids[0], "a0000005591010ffffffff8900000400");
    assert.equal(parseDeviceConfig({ broker: { host: "a.example", serverName: "b.example" } }).broker.serverName, "b.example");
    assert.deepEqual(parseDeviceConfig({ modem: { simTransports: "cgla,csim" } }).modem.simTransports, ["cgla", "csim"]);
  });

  const bad: [string, unknown, RegExp][] = [
    ["an unknown top-level setting", { brokr: {} }, /unknown setting brokr/],
    ["an unknown nested setting", { broker: { hots: "x" } }, /unknown setting broker\.hots/],
    ["an unknown modem dialect", { modem: { dialect: "acme-9000" } }, /modem\.dialect/],
    ["a port out of range", { broker: { port: 70000 } }, /broker\.port/],
    ["a port that is not an integer", { broker: { port: "8883" } }, /broker\.port/],
    ["a host with a quote", { broker: { host: 'a"b' } }, /broker\.host/],
    ["an APN with a quote", { modem: { apn: 'x"' } }, /modem\.apn/],
    ["a PIN that is not digits", { modem: { pin: "12ab" } }, /modem\.pin/],
    ["an unknown SIM transport", { modem: { simTransports: ["pcsc"] } }, /simTransports/],
    ["a topic with a wildcard", { topic: "devices/+/t" }, /wildcards/],
    ["a topic with an unknown placeholder", { topic: "devices/{deviceId}" }, /unknown placeholder/],
    ["an empty topic", { topic: "" }, /empty/],
    ["a trust anchor that is neither", { trustAnchors: ["ca.pem"] }, /neither/],
    ["a SIM trust anchor that is not hex", { trustAnchors: ["sim:zz"] }, /file ID/],
    ["no trust anchors", { trustAnchors: [] }, /1\.\.8 entries/],
    ["an object ID that is not hex", { iotsafe: { privateKeyId: "key" } }, /privateKeyId/],
    ["an AID too short", { iotsafe: { aids: ["A000"] } }, /aids\[0\]/],
    ["a zero capacity", { outbox: { capacity: 0 } }, /outbox\.capacity/],
    ["a capacity of one (nothing could wait while one is in flight)", { outbox: { capacity: 1 } }, /outbox\.capacity/],
    ["a jitter above 1", { backoff: { jitter: 2 } }, /backoff\.jitter/],
    ["a backoff ceiling below its start", { backoff: { initialMs: 5000, maxMs: 1000 } }, /maxMs/],
    ["an interval of 0", { publishIntervalMs: 0 }, /publishIntervalMs/],
    ["a network that does not exist", { network: "wifi" }, /network/],
    ["a list where an object belongs", { broker: [] }, /broker must be an object/],
    ["not an object at all", "broker=x", /must be an object/],
  ];
  for (const [what, input, pattern] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseDeviceConfig(input), DeviceConfigError, pattern);
    });
  }

  describe("topic template", () => {
    it("puts the client ID (the certificate's CN) and the sensor name in", () => {
      assert.equal(expandTopic("devices/{clientId}/telemetry", { clientId: "device-001" }), "devices/device-001/telemetry");
      assert.equal(expandTopic("d/{clientId}/{sensor}", { clientId: "x", sensor: "temperature" }), "d/x/temperature");
    });
    it("refuses a CN that would change the topic's levels or hold wildcards", () => {
      for (const cn of ["a/b", "a+b", "#", ""]) {
        assert.throws(() => expandTopic("devices/{clientId}/t", { clientId: cn }), DeviceIdentityError);
      }
      assert.throws(() => expandTopic("d/{sensor}", { clientId: "x" }), DeviceIdentityError, /needs \{sensor\}/);
    });
  });
});
