/**
 * Seeded, bounded property tests of what touchless provisioning parses: the cloud's answers (any
 * bytes, any JSON on the accepted or rejected topic), the stored records (torn or foreign values),
 * stored certificate chains, the configuration, and — on the cloud side — whatever a device may
 * publish on the provisioning topics. Each ends in a value or a typed error, never another
 * exception or a hang. (Here rather than in test/unit: fast-check reads setTimeout at load time.)
 */
import fc from "fast-check";
import { bytesToUtf8, utf8ToBytes } from "../../modules/bytes/bytes.js";
import type { MqttMessage } from "../../modules/mqtt/client.js";
import { MemoryStore } from "../../modules/platform/storage.js";
import { parseProvisioningConfig } from "../../modules/provisioning/config.js";
import { ProvisioningError } from "../../modules/provisioning/errors.js";
import { FleetProvisioningClient, type ProvisioningMqtt } from "../../modules/provisioning/fleet-api.js";
import { decodeChain, EnrollmentState } from "../../modules/provisioning/state.js";
import { checkCsr, ProvisioningService, ProvisioningServiceError } from "../../hosts/sim/cloud/provisioning.js";
import { createDevCa } from "../../hosts/sim/pki/dev-ca.js";
import * as assert from "../lib/portable/assert.js";
import { ManualPlatform } from "../lib/portable/manual-platform.js";

const SEED = { seed: 42 };

/** JSON values biased towards the fields the answers carry. */
const field = fc.constantFrom("certificateId", "certificatePem", "certificateOwnershipToken", "thingName", "deviceConfiguration", "statusCode", "errorCode", "errorMessage", "x");
const pemish = fc.constantFrom("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\n", "", "-----BEGIN X-----\n!!\n-----END X-----");
const leaf = fc.oneof(fc.string({ maxLength: 20 }), pemish, fc.integer(), fc.boolean(), fc.constant(null), fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { maxKeys: 3 }));
const answerBody = fc.oneof(
  fc.dictionary(field, leaf, { maxKeys: 6 }).map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 3 }),
  fc.uint8Array({ maxLength: 64 }).map((b) => bytesToUtf8(b)),
);

class OneAnswer implements ProvisioningMqtt {
  onMessage: ((message: MqttMessage) => void | Promise<void>) | undefined;
  constructor(readonly suffix: string, readonly payload: Uint8Array) {}
  async subscribe(): Promise<unknown> {
    return [1, 1];
  }
  async publish(topic: string): Promise<void> {
    void Promise.resolve().then(() => this.onMessage?.({ topic: topic + this.suffix, payload: this.payload, qos: 1, retain: false, dup: false }));
  }
  async disconnect(): Promise<void> {}
  async abort(): Promise<void> {}
}

describe("provisioning fuzz (seeded)", function () {
  this.timeout(60000);

  it("any answer to CreateCertificateFromCsr or RegisterThing gives a result or a ProvisioningError", async () => {
    const config = parseProvisioningConfig({ maxResponseBytes: 1024 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/accepted", "/rejected"), answerBody, fc.boolean(), async (suffix, body, register) => {
        const api = new FleetProvisioningClient(new OneAnswer(suffix, utf8ToBytes(body)), config, new ManualPlatform());
        try {
          if (register) await api.registerThing("t", {});
          else await api.createCertificateFromCsr("csr");
        } catch (error) {
          assert.ok(error instanceof ProvisioningError, `${(error as Error).name}: ${(error as Error).message}`);
        }
      }),
      { ...SEED, numRuns: 600 },
    );
  });

  it("stored records and chains of any bytes are read as absent or valid, never throw", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), answerBody.map((s) => utf8ToBytes(s))), fc.constantFrom("active", "pending"), (bytes, key) => {
        const store = new MemoryStore();
        store.set(key, bytes);
        const state = new EnrollmentState(store, 2, new ManualPlatform());
        const value = key === "active" ? state.active : state.pending;
        if (value) assert.ok(value.slot === 0 || value.slot === 1);
        const chain = decodeChain(bytes);
        if (chain) assert.ok(chain.length >= 1 && chain.length <= 4 && chain.every((c) => c[0] === 0x30));
      }),
      { ...SEED, numRuns: 2000 },
    );
  });

  it("any configuration input is parsed or refused with ProvisioningError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.json({ maxDepth: 3 }).map((s) => JSON.parse(s) as unknown), fc.dictionary(fc.constantFrom("claim", "operationalKeyIds", "topics", "fields", "subject", "parameters", "templateName", "renewBeforeMs"), leaf, { maxKeys: 4 })), (input) => {
        try {
          parseProvisioningConfig(input);
        } catch (error) {
          assert.ok(error instanceof ProvisioningError, `${(error as Error).name}: ${(error as Error).message}`);
        }
      }),
      { ...SEED, numRuns: 2000 },
    );
  });

  it("the cloud service answers anything published on its request topics with accepted or rejected, and checkCsr throws only its own error", () => {
    const service = new ProvisioningService({ claimCa: createDevCa({ cn: "fuzz claim" }), operationalCa: createDevCa({ cn: "fuzz operational" }) });
    const requestBody = fc.oneof(
      fc.dictionary(fc.constantFrom("certificateSigningRequest", "certificateOwnershipToken", "parameters"), fc.oneof(leaf, fc.constant("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n")), { maxKeys: 3 }).map((o) => JSON.stringify(o)),
      fc.json({ maxDepth: 2 }),
      fc.uint8Array({ maxLength: 40 }).map((b) => bytesToUtf8(b)),
    );
    fc.assert(
      fc.property(fc.constantFrom(service.createTopic, service.registerTopic), requestBody, (topic, body) => {
        const answer = service.handle(topic, utf8ToBytes(body), "fuzzer");
        assert.ok(answer.topic === `${topic}/accepted` || answer.topic === `${topic}/rejected`);
        try {
          checkCsr(body);
        } catch (error) {
          assert.ok(error instanceof ProvisioningServiceError, `${(error as Error).name}: ${(error as Error).message}`);
        }
      }),
      { ...SEED, numRuns: 1000 },
    );
  });
});
