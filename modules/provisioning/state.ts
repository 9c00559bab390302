/**
 * What provisioning keeps across reboots, in the device's durable key-value storage (NVS on the
 * ESP32): where an enrollment stands ("pending") and which operational key and certificate are in
 * use ("active"), plus the certificate chains themselves (flash, or a writable SIM file).
 *
 * Each record is one storage value, written whole (storage writes are atomic), and the writes are
 * ordered so that a power cut between any two of them leaves a state the flow can resume from:
 * the certificate is stored before "pending" says it is, and "active" — the commit — is written
 * only once the certificate is stored, verified and registered. A record that does not parse (a
 * torn or foreign value) is treated as absent: the flow then enrolls again, which is always safe
 * because the claim credential is never touched.
 */
import { bytesToUtf8, concatBytes, fromHex, toHex, utf8ToBytes } from "../bytes/bytes.js";
import { DerError, readElement } from "../crypto/der.js";
import { IotSafeError } from "../iotsafe/errors.js";
import type { ObjectRef } from "../iotsafe/objects.js";
import type { Platform } from "../platform/platform.js";
import type { KeyValueStore } from "../platform/storage.js";

/** The enrollment that completed last: the operational identity the device uses. */
export interface ActiveRecord {
  /** Index into operationalKeyIds. */
  slot: number;
  certificateId: string;
  thingName: string;
  deviceConfiguration: Record<string, string>;
}

/** An enrollment in progress, by the last step that completed. */
export type PendingRecord =
  /** GENERATE KEY PAIR was (maybe) sent for `slot`: its old key, if any, may be gone. */
  | { step: "generating"; slot: number }
  /** The slot holds a fresh key pair whose public key is `publicKey` (hex). */
  | { step: "key-generated"; slot: number; publicKey: string }
  /** The cloud issued a certificate for it (stored in the certificate store), not yet registered. */
  | { step: "certificate-issued"; slot: number; publicKey: string; certificateId: string; ownershipToken: string };

const ACTIVE_KEY = "active";
const PENDING_KEY = "pending";
const MAX_CHAIN_CERTIFICATES = 4;

function isSlot(value: unknown, slots: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < slots;
}

function isHexPoint(value: unknown): value is string {
  return typeof value === "string" && /^04[0-9a-f]{128}$/.test(value);
}

function isShortString(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= max;
}

/** Reads and writes the "active" and "pending" records. */
export class EnrollmentState {
  readonly #store: KeyValueStore;
  readonly #slots: number;
  readonly #platform: Platform;

  constructor(store: KeyValueStore, slots: number, platform: Platform) {
    this.#store = store;
    this.#slots = slots;
    this.#platform = platform;
  }

  #read(key: string): Record<string, unknown> | undefined {
    const bytes = this.#store.get(key);
    if (!bytes) return undefined;
    try {
      const value = JSON.parse(bytesToUtf8(bytes)) as unknown;
      if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // falls through to the warning
    }
    this.#platform.log("warn", "provision", `stored "${key}" record does not parse; ignoring it`);
    return undefined;
  }

  #write(key: string, value: object): void {
    this.#store.set(key, utf8ToBytes(JSON.stringify(value)));
  }

  get active(): ActiveRecord | undefined {
    const r = this.#read(ACTIVE_KEY);
    if (!r) return undefined;
    const config = r["deviceConfiguration"];
    if (!isSlot(r["slot"], this.#slots) || !isShortString(r["certificateId"], 256) || !isShortString(r["thingName"], 128) || typeof config !== "object" || config === null) {
      this.#platform.log("warn", "provision", `stored "active" record is not one this firmware wrote (or names a slot beyond the configured ${this.#slots}); ignoring it`);
      return undefined;
    }
    const deviceConfiguration: Record<string, string> = {};
    for (const [k, v] of Object.entries(config as Record<string, unknown>)) if (typeof v === "string") deviceConfiguration[k] = v;
    return { slot: r["slot"], certificateId: r["certificateId"], thingName: r["thingName"], deviceConfiguration };
  }

  setActive(record: ActiveRecord): void {
    this.#write(ACTIVE_KEY, record);
  }

  clearActive(): void {
    this.#store.delete(ACTIVE_KEY);
  }

  get pending(): PendingRecord | undefined {
    const r = this.#read(PENDING_KEY);
    if (!r) return undefined;
    const slot = r["slot"];
    const bad = () => {
      this.#platform.log("warn", "provision", `stored "pending" record is not one this firmware wrote; ignoring it`);
      return undefined;
    };
    if (!isSlot(slot, this.#slots)) return bad();
    switch (r["step"]) {
      case "generating":
        return { step: "generating", slot };
      case "key-generated":
        return isHexPoint(r["publicKey"]) ? { step: "key-generated", slot, publicKey: r["publicKey"] } : bad();
      case "certificate-issued":
        if (!isHexPoint(r["publicKey"]) || !isShortString(r["certificateId"], 256) || !isShortString(r["ownershipToken"], 4096)) return bad();
        return { step: "certificate-issued", slot, publicKey: r["publicKey"], certificateId: r["certificateId"], ownershipToken: r["ownershipToken"] };
      default:
        return bad();
    }
  }

  setPending(record: PendingRecord): void {
    this.#write(PENDING_KEY, record);
  }

  clearPending(): void {
    this.#store.delete(PENDING_KEY);
  }
}

/** Where issued certificate chains live, one per operational key slot. */
export interface CertificateStore {
  /** "flash" (device storage) or "sim" (a writable IoT SAFE file). */
  readonly kind: string;
  /** The chain stored for `slot`, leaf first, or undefined (none, or unreadable). */
  load(slot: number): Promise<Uint8Array[] | undefined>;
  save(slot: number, chain: readonly Uint8Array[]): Promise<void>;
}

/** The DER certificates of a stored chain (concatenated DER), or undefined when it does not parse. */
export function decodeChain(bytes: Uint8Array): Uint8Array[] | undefined {
  const chain: Uint8Array[] = [];
  let offset = 0;
  try {
    while (offset < bytes.length) {
      if (chain.length >= MAX_CHAIN_CERTIFICATES) return undefined;
      const { element, next } = readElement(bytes, offset);
      if (element.tag !== 0x30) return undefined;
      chain.push(element.raw.slice());
      offset = next;
    }
  } catch (error) {
    if (error instanceof DerError) return undefined;
    throw error;
  }
  return chain.length > 0 ? chain : undefined;
}

export function encodeChain(chain: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...chain);
}

/** Chains in the device's durable storage, under "cert0", "cert1". */
export class FlashCertificateStore implements CertificateStore {
  readonly kind = "flash";
  readonly #store: KeyValueStore;

  constructor(store: KeyValueStore) {
    this.#store = store;
  }

  async load(slot: number): Promise<Uint8Array[] | undefined> {
    const bytes = this.#store.get(`cert${slot}`);
    return bytes ? decodeChain(bytes) : undefined;
  }

  async save(slot: number, chain: readonly Uint8Array[]): Promise<void> {
    this.#store.set(`cert${slot}`, encodeChain(chain));
  }
}

/**
 * Chains in writable IoT SAFE files, one per slot. IoT SAFE v1 defines no command for the device to
 * write a file (files are written by the SIM vendor or over the air), so the writer is supplied by
 * whoever knows the SIM's proprietary command; without one, use FlashCertificateStore.
 */
export class SimFileCertificateStore implements CertificateStore {
  readonly kind = "sim";
  readonly #files: readonly ObjectRef[];
  readonly #read: (file: ObjectRef) => Promise<Uint8Array>;
  readonly #write: (file: ObjectRef, contents: Uint8Array) => Promise<void>;

  constructor(options: { files: readonly ObjectRef[]; read: (file: ObjectRef) => Promise<Uint8Array>; write: (file: ObjectRef, contents: Uint8Array) => Promise<void> }) {
    this.#files = options.files;
    this.#read = options.read;
    this.#write = options.write;
  }

  #file(slot: number): ObjectRef {
    const file = this.#files[slot];
    if (!file) throw new RangeError(`no SIM certificate file for operational slot ${slot}`);
    return file;
  }

  async load(slot: number): Promise<Uint8Array[] | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await this.#read(this.#file(slot));
    } catch (error) {
      // An empty or missing file is "no certificate"; a transport failure is not.
      if (error instanceof IotSafeError) return undefined;
      throw error;
    }
    return decodeChain(bytes);
  }

  async save(slot: number, chain: readonly Uint8Array[]): Promise<void> {
    await this.#write(this.#file(slot), encodeChain(chain));
  }
}

export function pointToHex(point: Uint8Array): string {
  return toHex(point).toLowerCase();
}

export function hexToPoint(hex: string): Uint8Array {
  return fromHex(hex);
}
