/**
 * A device world for the provisioning unit tests: a fake SIM as a SIM vendor ships it for touchless
 * provisioning (claim key 01 + claim certificate in file 02, the operational CA in file 08, empty
 * writable containers 06 and 07), durable storage, and the fake fleet-provisioning cloud — all on
 * one power supply so a test can cut the power at any effect.
 */
import { nobleCrypto } from "../../../modules/crypto/noble-provider.js";
import { parseProvisioningConfig, type ProvisioningConfig } from "../../../modules/provisioning/config.js";
import { type ProvisioningEvent, Provisioner } from "../../../modules/provisioning/provisioner.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { createTestCa, FakeFleetCloud, FakeSim, issueCertificate, pointOf, PoweredStore, PowerSupply, testSecret, type TestCa } from "./fakes.js";

export const ICCID = "8988303000001234567";
export const IMEI = "356938035643809";

export interface World {
  platform: ManualPlatform;
  power: PowerSupply;
  sim: FakeSim;
  store: PoweredStore;
  cloud: FakeFleetCloud;
  claimCa: TestCa;
  operationalCa: TestCa;
  config: ProvisioningConfig;
  events: ProvisioningEvent[];
  /** Added to the platform's wall clock (to move into the renewal window without firing timers). */
  clockOffset: number;
  /** A Provisioner as a fresh boot makes one. */
  boot(): Provisioner;
  /** An independent copy (SIM, storage, cloud records; same CAs), to branch from one provisioned state. */
  clone(): World;
}

export function makeWorld(options: { slots?: 1 | 2; config?: Record<string, unknown> } = {}, cas?: { claimCa: TestCa; operationalCa: TestCa }): World {
  const platform = new ManualPlatform();
  const power = new PowerSupply();
  const claimCa = cas?.claimCa ?? createTestCa("claim CA", platform.wallClock());
  const operationalCa = cas?.operationalCa ?? createTestCa("operational CA", platform.wallClock());
  const sim = new FakeSim(power);
  const claimSecret = testSecret("claim");
  sim.keys.set("01", { secret: claimSecret, writable: false });
  sim.files.set(
    "02",
    issueCertificate({ issuer: claimCa.name, signer: claimCa.secret, subject: "claim-batch-7", point: pointOf(claimSecret), notBefore: platform.wallClock() - 86_400_000, notAfter: platform.wallClock() + 3650 * 86_400_000, ca: false }),
  );
  sim.files.set("08", operationalCa.der);
  sim.keys.set("06", { secret: undefined, writable: true });
  sim.keys.set("07", { secret: undefined, writable: true });
  const store = new PoweredStore(power);
  const world: World = {
    platform,
    power,
    sim,
    store,
    cloud: undefined as unknown as FakeFleetCloud,
    claimCa,
    operationalCa,
    config: parseProvisioningConfig({ ...(options.slots === 1 ? { operationalKeyIds: ["06"] } : {}), ...options.config }),
    events: [],
    clockOffset: 0,
    boot() {
      return new Provisioner({
        sim: world.sim,
        store: world.store,
        config: world.config,
        platform: world.platform,
        provider: nobleCrypto,
        device: { iccid: ICCID, imei: IMEI },
        connect: world.cloud.connect,
        clock: () => world.platform.wallClock() + world.clockOffset,
        onEvent: (event) => world.events.push(event),
      });
    },
    clone() {
      const copy = makeWorld(options, { claimCa, operationalCa });
      copy.sim.keys.clear();
      for (const [id, c] of world.sim.keys) copy.sim.keys.set(id, { ...c });
      for (const [id, f] of world.sim.files) copy.sim.files.set(id, f.slice());
      for (const key of world.store.inner.keys()) copy.store.inner.set(key, world.store.inner.get(key)!);
      for (const record of world.cloud.issued) copy.cloud.issued.push({ ...record });
      copy.clockOffset = world.clockOffset;
      return copy;
    },
  };
  world.cloud = new FakeFleetCloud(power, claimCa, operationalCa, () => platform.wallClock() + world.clockOffset);
  return world;
}

/** The step names of the step events, in order. */
export function steps(events: readonly ProvisioningEvent[]): string[] {
  return events.filter((e) => e.type === "step").map((e) => (e as { step: string }).step);
}
