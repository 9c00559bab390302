/**
 * Bringing up the modem and the IoT SAFE applet on it: the sequence every device flow starts with.
 */
import { AtEngine, type AtCounters } from "../at/index.js";
import { IotSafeClient } from "../iotsafe/index.js";
import { GenericModem, type ModemIdentity } from "../modem/generic.js";
import type { ByteLink, Platform } from "../platform/platform.js";
import { createAtCardAccess, type SimTransportKind } from "../sim/index.js";

export interface SimSessionOptions {
  /** "csim", "cgla", or both in order of preference (default csim then cgla). */
  transports?: readonly SimTransportKind[];
  pin?: string;
}

export interface SimSession {
  at: AtEngine;
  modem: GenericModem;
  identity: ModemIdentity;
  client: IotSafeClient;
  /** Which transport opened the applet. */
  transport: string;
  close(): Promise<void>;
}

export async function openSimSession(link: ByteLink, platform: Platform, options: SimSessionOptions = {}): Promise<SimSession> {
  const at = new AtEngine(link, platform);
  try {
    const modem = new GenericModem(at, platform);
    await modem.init(options.pin === undefined ? {} : { pin: options.pin });
    const identity = await modem.identity();
    const access = createAtCardAccess(at, {
      order: options.transports ?? ["csim", "cgla"],
      log: (level, message) => platform.log(level, "sim", message),
    });
    const client = new IotSafeClient(access, { platform });
    await client.open();
    return {
      at,
      modem,
      identity,
      client,
      transport: access.current.name,
      async close() {
        try {
          await client.close();
        } finally {
          at.close();
        }
      },
    };
  } catch (error) {
    at.close();
    throw error;
  }
}

/** AT traffic between two counter snapshots. */
export function atDelta(before: AtCounters, after: AtCounters): { commands: number; bytesOut: number; bytesIn: number } {
  return { commands: after.commandsSent - before.commandsSent, bytesOut: after.bytesOut - before.bytesOut, bytesIn: after.bytesIn - before.bytesIn };
}
