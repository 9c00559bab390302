import { bytesToUtf8, utf8ToBytes } from "../../../modules/bytes/bytes.js";
import type { MqttMessage } from "../../../modules/mqtt/client.js";
import { parseProvisioningConfig } from "../../../modules/provisioning/config.js";
import { CsrRejectedError, ProvisioningResponseError, ProvisioningTimeoutError, RegistrationRejectedError } from "../../../modules/provisioning/errors.js";
import { FleetProvisioningClient, type ProvisioningMqtt } from "../../../modules/provisioning/fleet-api.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { createTestCa } from "./fakes.js";

/** An MQTT connection whose answers the test scripts: `answer(request)` returns what arrives after each publish. */
class ScriptedMqtt implements ProvisioningMqtt {
  onMessage: ((message: MqttMessage) => void | Promise<void>) | undefined;
  readonly subscribed: string[][] = [];
  readonly published: { topic: string; body: unknown; qos: number | undefined }[] = [];
  constructor(readonly answer: (topic: string, body: Record<string, unknown>) => { topic: string; payload: string }[]) {}
  async subscribe(filters: readonly string[]): Promise<unknown> {
    this.subscribed.push([...filters]);
    return filters.map(() => 1);
  }
  async publish(topic: string, payload: Uint8Array | string, options?: { qos?: 0 | 1 }): Promise<void> {
    const body = JSON.parse(typeof payload === "string" ? payload : bytesToUtf8(payload)) as Record<string, unknown>;
    this.published.push({ topic, body, qos: options?.qos });
    for (const m of this.answer(topic, body)) void Promise.resolve().then(() => this.onMessage?.({ topic: m.topic, payload: utf8ToBytes(m.payload), qos: 1, retain: false, dup: false }));
  }
  async disconnect(): Promise<void> {}
  async abort(): Promise<void> {}
}

const CREATE = "$aws/certificates/create-from-csr/json";
const REGISTER = "$aws/provisioning-templates/iotsafe-fleet/provision/json";

describe("provisioning fleet API client", () => {
  const ca = createTestCa("api test CA", 1_767_225_600_000);

  it("subscribes to both answer topics once, publishes the request at QoS 1 and takes the accepted answer", async () => {
    const mqtt = new ScriptedMqtt((topic) => [
      { topic: "$aws/things/other/shadow/update", payload: "{}" }, // not ours: ignored
      { topic: `${topic}/accepted`, payload: JSON.stringify({ certificateId: "c1", certificatePem: ca.pem, certificateOwnershipToken: "t1" }) },
    ]);
    const api = new FleetProvisioningClient(mqtt, parseProvisioningConfig({}), new ManualPlatform());
    const issued = await api.createCertificateFromCsr("-----BEGIN CERTIFICATE REQUEST-----\n...\n");
    assert.equal(issued.certificateId, "c1");
    assert.equal(issued.ownershipToken, "t1");
    assert.deepEqual(issued.chain[0], ca.der);
    await api.createCertificateFromCsr("again");
    assert.deepEqual(mqtt.subscribed, [[`${CREATE}/accepted`, `${CREATE}/rejected`]]);
    assert.deepEqual(mqtt.published[0], { topic: CREATE, body: { certificateSigningRequest: "-----BEGIN CERTIFICATE REQUEST-----\n...\n" }, qos: 1 });
  });

  it("RegisterThing sends the token and parameters; returns thingName and deviceConfiguration", async () => {
    const mqtt = new ScriptedMqtt((topic) => [{ topic: `${topic}/accepted`, payload: JSON.stringify({ thingName: "thing-1", deviceConfiguration: { a: "b" } }) }]);
    const api = new FleetProvisioningClient(mqtt, parseProvisioningConfig({}), new ManualPlatform());
    assert.deepEqual(await api.registerThing("tok", { ICCID: "89" }), { thingName: "thing-1", deviceConfiguration: { a: "b" } });
    assert.deepEqual(mqtt.published[0], { topic: REGISTER, body: { certificateOwnershipToken: "tok", parameters: { ICCID: "89" } }, qos: 1 });
  });

  it("turns /rejected answers into typed errors carrying statusCode, errorCode and errorMessage, even when fields are missing", async () => {
    const mqtt = new ScriptedMqtt((topic) => [{ topic: `${topic}/rejected`, payload: topic === CREATE ? JSON.stringify({ statusCode: 400, errorCode: "InvalidCsr", errorMessage: "bad" }) : JSON.stringify({ statusCode: "x" }) }]);
    const api = new FleetProvisioningClient(mqtt, parseProvisioningConfig({}), new ManualPlatform());
    const csr = (await assert.rejects(api.createCertificateFromCsr("x"), CsrRejectedError, /400 InvalidCsr bad/)) as CsrRejectedError;
    assert.equal(csr.statusCode, 400);
    const reg = (await assert.rejects(api.registerThing("t", {}), RegistrationRejectedError, /no reason given/)) as RegistrationRejectedError;
    assert.equal(reg.statusCode, undefined);
  });

  it("uses configured topic and field names", async () => {
    const config = parseProvisioningConfig({ topics: { createCertificate: "p/csr", acceptedSuffix: "/ok", rejectedSuffix: "/no" }, fields: { certificateSigningRequest: "csr", certificatePem: "pem", certificateId: "id", certificateOwnershipToken: "token" } });
    const mqtt = new ScriptedMqtt((topic) => [{ topic: `${topic}/ok`, payload: JSON.stringify({ id: "c", pem: ca.pem, token: "t" }) }]);
    const api = new FleetProvisioningClient(mqtt, config, new ManualPlatform());
    assert.equal((await api.createCertificateFromCsr("R")).certificateId, "c");
    assert.deepEqual(mqtt.published[0]!.body, { csr: "R" });
    assert.deepEqual(mqtt.subscribed[0], ["p/csr/ok", "p/csr/no"]);
  });

  it("times out when neither answer comes, and refuses answers of the wrong shape", async () => {
    const platform = new ManualPlatform();
    const silent = new FleetProvisioningClient(new ScriptedMqtt(() => []), parseProvisioningConfig({ responseTimeoutMs: 5000 }), platform);
    const waiting = silent.registerThing("t", {});
    waiting.catch(() => undefined);
    await platform.advance(5001);
    await assert.rejects(waiting, ProvisioningTimeoutError, /within 5000 ms/);

    const shapes: [string, RegExp][] = [
      [JSON.stringify({ thingName: 5 }), /no thingName/],
      [JSON.stringify({ thingName: "t", deviceConfiguration: [1] }), /deviceConfiguration is not an object/],
      [JSON.stringify({ thingName: "t", deviceConfiguration: { a: 1 } }), /deviceConfiguration\.a is not a string/],
      ["\u00ff\u00fe", /not JSON/],
    ];
    for (const [payload, pattern] of shapes) {
      const api = new FleetProvisioningClient(new ScriptedMqtt((topic) => [{ topic: `${topic}/accepted`, payload }]), parseProvisioningConfig({}), new ManualPlatform());
      await assert.rejects(api.registerThing("t", {}), ProvisioningResponseError, pattern);
    }
  });
});
