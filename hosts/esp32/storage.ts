/**
 * The firmware's durable storage (modules/platform/storage.ts) on Moddable hosts: the SDK's
 * `preference` module — NVS on ESP32 (each set/delete is committed when it returns), a JSON file
 * in the desktop simulator. Values are stored as ArrayBuffers (NVS blobs).
 */
import { checkStorageName, checkStorageValue, type KeyValueStore, StorageError, type StoreOpener, storageNameProblem } from "../../modules/platform/storage.js";

/** The `preference` functions this store uses (the module, or a stand-in in tests). */
export interface PreferenceApi {
  set(domain: string, key: string, value: ArrayBuffer): void;
  get(domain: string, key: string): unknown;
  delete(domain: string, key: string): void;
  keys(domain: string): string[];
}

/** One Preference domain as a KeyValueStore. */
export function preferenceStore(domain: string, preference: PreferenceApi): KeyValueStore {
  checkStorageName(domain, "domain");
  return {
    get(key) {
      checkStorageName(key);
      const value = preference.get(domain, key);
      if (value === undefined || value === null) return undefined;
      if (!(value instanceof ArrayBuffer)) throw new StorageError(`preference ${domain}/${key} holds a ${typeof value}, not bytes`);
      return new Uint8Array(value.slice(0));
    },
    set(key, value) {
      checkStorageName(key);
      checkStorageValue(key, value);
      const copy = new Uint8Array(value.length);
      copy.set(value);
      preference.set(domain, key, copy.buffer);
    },
    delete(key) {
      checkStorageName(key);
      preference.delete(domain, key);
    },
    keys() {
      // Only names every host accepts: anything else in the domain was not written by this store.
      return preference.keys(domain).filter((name) => storageNameProblem(name) === undefined);
    },
  };
}

/** Every domain of the device's Preference storage. */
export function preferenceStores(preference: PreferenceApi): StoreOpener {
  const open = new Map<string, KeyValueStore>();
  return (domain) => {
    let store = open.get(domain);
    if (!store) open.set(domain, (store = preferenceStore(domain, preference)));
    return store;
  };
}
