/**
 * The firmware's durable storage (modules/platform/storage.ts) on a desktop: a directory per
 * domain, a file per key. Each set() writes a temporary file, flushes it to disk and renames it
 * over the old one, so a crash (or a killed process) at any moment leaves either the old value or
 * the new one, never a torn one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { checkStorageName, checkStorageValue, type KeyValueStore, type StoreOpener, storageNameProblem } from "../../modules/platform/storage.js";

function syncDirectory(dir: string): void {
  // Makes the rename itself durable; not every file system lets a directory be opened for this.
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}

/** One domain: the directory `dir` (created on first use). */
export function fileStore(dir: string): KeyValueStore {
  mkdirSync(dir, { recursive: true });
  return {
    get(key) {
      checkStorageName(key);
      try {
        return new Uint8Array(readFileSync(join(dir, key)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    set(key, value) {
      checkStorageName(key);
      checkStorageValue(key, value);
      // Keys never start with '.', so a temporary file left by a crash is never listed as a key.
      const temporary = join(dir, `.${key}.tmp`);
      const fd = openSync(temporary, "w");
      try {
        writeSync(fd, value);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, join(dir, key));
      syncDirectory(dir);
    },
    delete(key) {
      checkStorageName(key);
      rmSync(join(dir, key), { force: true });
    },
    keys() {
      return readdirSync(dir).filter((name) => storageNameProblem(name) === undefined);
    },
  };
}

/** Every domain under `root` (the demo's state/storage folder). */
export function fileStores(root: string): StoreOpener {
  const open = new Map<string, KeyValueStore>();
  return (domain) => {
    checkStorageName(domain, "domain");
    let store = open.get(domain);
    if (!store) open.set(domain, (store = fileStore(join(root, domain))));
    return store;
  };
}
