import type { ByteLink, Platform } from "../platform/platform.js";
import type { KeyValueStore } from "../platform/storage.js";

/** What a host hands a firmware entry point: the platform, its byte links by name, user output. */
export interface FirmwareContext {
  platform: Platform;
  /** The byte link the host attached under `name` ("modem" is the modem's UART). */
  link(name: string): ByteLink;
  /** Text for the person running the firmware (a CLI's standard output). */
  print(text: string): void;
  /** Durable storage, by domain (flash on the device, files on a desktop); absent on hosts without it. */
  store?(domain: string): KeyValueStore;
}

/**
 * A firmware entry point: runs the same on XS (through the XS runner) and on Node. Arguments and
 * result are JSON values (bytes as hex) because they cross the XS bridge.
 */
export type FirmwareEntry = (args: unknown, context: FirmwareContext) => Promise<unknown>;

export class EntryArgumentError extends Error {
  override name = "EntryArgumentError";
}

/** Reads a string argument, with a default. */
export function stringArg(args: unknown, name: string, fallback?: string): string {
  const value = (args as Record<string, unknown> | null)?.[name];
  if (value === undefined || value === null) {
    if (fallback === undefined) throw new EntryArgumentError(`missing argument ${name}`);
    return fallback;
  }
  if (typeof value !== "string") throw new EntryArgumentError(`argument ${name} must be a string`);
  return value;
}
