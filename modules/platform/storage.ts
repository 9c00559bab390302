/**
 * Durable key-value storage, as the firmware sees it. Shaped after Moddable's `preference` module
 * (ESP32 NVS), the smallest store every host has: short keys in a named domain, small byte values,
 * each `set` or `delete` durable and atomic on its own when it returns (there are no multi-key
 * transactions, so callers order their writes so that a reboot between two of them is harmless).
 *
 * Hosts: the device backs it with Preference/NVS (hosts/esp32, with the hardware issue); Node with
 * one file per key, replaced atomically (hosts/node/storage.ts); the XS runner bridges it to Node;
 * tests use MemoryStore.
 *
 * Synchronous on purpose: Preference and the XS bridge are synchronous, and an operation that
 * cannot interleave with others needs no locking.
 */

/** NVS limit on ESP32 for both domain and key names. */
export const MAX_STORAGE_NAME_LENGTH = 15;
/** NVS limit on ESP32 for one value. */
export const MAX_STORAGE_VALUE_LENGTH = 4000;

const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

export class StorageError extends Error {
  override name = "StorageError";
}

/** One domain of durable storage. */
export interface KeyValueStore {
  /** The value stored under `key`, or undefined. Returns a copy the caller may keep. */
  get(key: string): Uint8Array | undefined;
  /** Stores `value` under `key` (replacing any earlier value); durable when it returns. */
  set(key: string, value: Uint8Array): void;
  /** Removes `key`; harmless when absent. */
  delete(key: string): void;
  /** Every key of the domain, in no particular order. */
  keys(): string[];
}

/** Opens a domain of a host's storage (a Preference domain, a directory...). */
export type StoreOpener = (domain: string) => KeyValueStore;

/** Problem with a domain or key name, or undefined when it is acceptable on every host. */
export function storageNameProblem(name: string): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "is empty";
  if (name.length > MAX_STORAGE_NAME_LENGTH) return `is longer than ${MAX_STORAGE_NAME_LENGTH} characters`;
  if (!NAME_PATTERN.test(name)) return "may hold only letters, digits, '_' and '-'";
  return undefined;
}

/** Throws StorageError when `name` is not a portable domain or key name. */
export function checkStorageName(name: string, what = "key"): void {
  const problem = storageNameProblem(name);
  if (problem) throw new StorageError(`storage ${what} ${JSON.stringify(name)} ${problem}`);
}

/** Throws StorageError when `value` is not bytes or too large for every host. */
export function checkStorageValue(key: string, value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) throw new StorageError(`storage value for ${JSON.stringify(key)} is not bytes`);
  if (value.length > MAX_STORAGE_VALUE_LENGTH) {
    throw new StorageError(`storage value for ${JSON.stringify(key)} has ${value.length} bytes, more than ${MAX_STORAGE_VALUE_LENGTH}`);
  }
}

/**
 * Storage in RAM: for tests and for hosts without flash (nothing survives a reboot). Enforces the
 * same limits as the device, so what works here fits NVS. `failWrites` makes the next writes throw,
 * like a full or failing flash.
 */
export class MemoryStore implements KeyValueStore {
  readonly #values = new Map<string, Uint8Array>();
  /** Writes and deletes performed (a flash-wear measure). */
  writes = 0;
  /** When set, set() and delete() throw it instead of writing. */
  failWrites: Error | undefined;

  get(key: string): Uint8Array | undefined {
    checkStorageName(key);
    return this.#values.get(key)?.slice();
  }
  set(key: string, value: Uint8Array): void {
    checkStorageName(key);
    checkStorageValue(key, value);
    if (this.failWrites) throw this.failWrites;
    this.writes++;
    this.#values.set(key, value.slice());
  }
  delete(key: string): void {
    checkStorageName(key);
    if (this.failWrites) throw this.failWrites;
    if (this.#values.delete(key)) this.writes++;
  }
  keys(): string[] {
    return Array.from(this.#values.keys());
  }
}

/** Domains of MemoryStore, for a whole device's storage in RAM. */
export function memoryStores(): StoreOpener & { domains: Map<string, MemoryStore> } {
  const domains = new Map<string, MemoryStore>();
  const open = (domain: string): KeyValueStore => {
    checkStorageName(domain, "domain");
    let store = domains.get(domain);
    if (!store) domains.set(domain, (store = new MemoryStore()));
    return store;
  };
  return Object.assign(open, { domains });
}
