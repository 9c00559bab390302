/**
 * Bringing up the modem and the IoT SAFE applet on it: the sequence the one-shot flows (probe,
 * csr, secure-echo, device-boot) start with. The long-running device application has its own
 * phases with recovery (device.ts).
 */
import { AtEngine, type AtCounters } from "../at/index.js";
import { IotSafeClient } from "../iotsafe/index.js";
import { atEngineOptions, createModem, isModemDialectName, type Modem, type ModemIdentity, UnknownModemDialectError } from "../modem/index.js";
import type { ByteLink, Platform } from "../platform/platform.js";
import { createAtCardAccess, type SimTransportKind } from "../sim/index.js";

export interface SimSessionOptions {
  /** Modem family (default "generic": 27.007 only, no sockets). */
  dialect?: string;
  /** "csim", "cgla", or both in order of preference (default: the dialect's own order). */
  transports?: readonly SimTransportKind[];
  pin?: string;
}

export interface SimSession {
  at: AtEngine;
  modem: Modem;
  identity: ModemIdentity;
  client: IotSafeClient;
  /** Which transport opened the applet. */
  transport: string;
  close(): Promise<void>;
}

export async function openSimSession(link: ByteLink, platform: Platform, options: SimSessionOptions = {}): Promise<SimSession> {
  const dialect = options.dialect ?? "generic";
  if (!isModemDialectName(dialect)) throw new UnknownModemDialectError(`unknown modem dialect ${JSON.stringify(dialect)}`);
  const at = new AtEngine(link, platform, atEngineOptions(dialect));
  let modem: Modem | undefined;
  try {
    modem = createModem(dialect, at, platform);
    await modem.init(options.pin === undefined ? {} : { pin: options.pin });
    const identity = await modem.identity();
    const access = createAtCardAccess(modem.simPort, {
      order: options.transports ?? modem.simAccess.order,
      log: (level, message) => platform.log(level, "sim", message),
    });
    const client = new IotSafeClient(access, { platform });
    await client.open();
    const opened = modem;
    return {
      at,
      modem: opened,
      identity,
      client,
      transport: access.current.name,
      async close() {
        try {
          await client.close();
        } finally {
          opened.dispose();
          at.close();
        }
      },
    };
  } catch (error) {
    modem?.dispose();
    at.close();
    throw error;
  }
}

/** AT traffic between two counter snapshots. */
export function atDelta(before: AtCounters, after: AtCounters): { commands: number; bytesOut: number; bytesIn: number } {
  return { commands: after.commandsSent - before.commandsSent, bytesOut: after.bytesOut - before.bytesOut, bytesIn: after.bytesIn - before.bytesIn };
}
