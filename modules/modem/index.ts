/**
 * Modem drivers: one `Modem` interface, a generic 3GPP TS 27.007 base and a dialect per family.
 *
 * ```ts
 * const at = new AtEngine(link, platform, atEngineOptions("quectel-bg95"));
 * const modem = createModem("quectel-bg95", at, platform, { hooks });
 * await modem.init({ pin });
 * await modem.attach({ apn: "iot.example" });
 * const access = createAtCardAccess(modem.simPort, { order: modem.simAccess.order });
 * const socket = await modem.openTcp("cloud.example", 8883);   // a modules/tls TlsTransport
 * ```
 */
import type { AtEngine, AtEngineOptions } from "../at/index.js";
import type { Platform } from "../platform/platform.js";
import { QuectelBg95Modem } from "./dialects/quectel-bg95.js";
import { SimcomSim7080Modem, type SimcomOptions } from "./dialects/simcom-sim7080.js";
import { UbloxSaraR5Modem } from "./dialects/ublox-sara-r5.js";
import { SequansGm02sModem } from "./dialects/sequans-gm02s.js";
import { NordicSlmModem } from "./dialects/nordic-slm.js";
import { UnknownModemDialectError } from "./errors.js";
import { GenericModem, type ModemOptions } from "./generic.js";
import { type Modem, MODEM_DIALECT_NAMES, type ModemDialectName } from "./types.js";

export * from "./errors.js";
export * from "./types.js";
export { dataTimeoutMs, type DialectProfile, GENERIC_PROFILE, GenericModem, type ModemOptions, type RecoveryOptions } from "./generic.js";
export { PullSocket, type ReceiveResult, type SocketOperations } from "./socket.js";
export { QUECTEL_BG95_PROFILE, QuectelBg95Modem } from "./dialects/quectel-bg95.js";
export { SIMCOM_SIM7080_PROFILE, SimcomSim7080Modem, type SimcomOptions } from "./dialects/simcom-sim7080.js";
export { UBLOX_SARA_R5_PROFILE, UbloxSaraR5Modem } from "./dialects/ublox-sara-r5.js";
export { SEQUANS_GM02S_PROFILE, SequansGm02sModem } from "./dialects/sequans-gm02s.js";
export { NORDIC_SLM_PROFILE, NordicSlmModem, splitForDataMode } from "./dialects/nordic-slm.js";

export function isModemDialectName(name: string): name is ModemDialectName {
  return (MODEM_DIALECT_NAMES as readonly string[]).includes(name);
}

/**
 * AtEngine options a family needs: the nRF91 SLM ends command lines with CR LF, and its #XRECV
 * can return up to 2048 bytes at once.
 */
export function atEngineOptions(dialect: ModemDialectName, base: AtEngineOptions = {}): AtEngineOptions {
  if (dialect === "nordic-slm") return { lineEnding: "\r\n", maxDataLength: 2048, ...base };
  return { ...base };
}

/** Options of every driver, plus the dialect-specific ones (ignored by the other dialects). */
export type CreateModemOptions = ModemOptions & SimcomOptions;

/** The driver for `dialect` on an AtEngine already connected to the modem. */
export function createModem(dialect: string, at: AtEngine, platform: Platform, options: CreateModemOptions = {}): Modem {
  switch (dialect) {
    case "generic":
      return new GenericModem(at, platform, options);
    case "quectel-bg95":
      return new QuectelBg95Modem(at, platform, options);
    case "simcom-sim7080":
      return new SimcomSim7080Modem(at, platform, options);
    case "ublox-sara-r5":
      return new UbloxSaraR5Modem(at, platform, options);
    case "sequans-gm02s":
      return new SequansGm02sModem(at, platform, options);
    case "nordic-slm":
      return new NordicSlmModem(at, platform, options);
    default:
      throw new UnknownModemDialectError(`unknown modem dialect ${JSON.stringify(dialect)}; known: ${MODEM_DIALECT_NAMES.join(", ")}`);
  }
}
