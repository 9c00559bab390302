/**
 * The firmware's main module on Moddable hosts. Board and simulator settings come from the
 * manifest's `config` (mc/config): on an ESP32 board the modem is on a UART; in the Moddable
 * desktop simulator it is the virtual modem, reached over TCP.
 */
import config from "mc/config";
import RNG from "rng";
import { firmwareEntries } from "../../modules/device/entries.js";
import type { ByteLink } from "../../modules/platform/platform.js";
import { moddablePlatform, tcpLink, uartLink } from "./platform.js";

interface ModemConfig {
  /** "uart" on boards, "tcp" in the Moddable simulator. */
  link: "uart" | "tcp";
  port?: number;
  transmit?: number;
  receive?: number;
  baud?: number;
  address?: string;
  tcpPort?: number;
}

const modemConfig = config.modem as ModemConfig;
const platform = moddablePlatform({
  fillRandom: (out) => out.set(new Uint8Array(RNG.get(out.length))),
  logLevel: (config.logLevel as "debug" | "info" | "warn" | "error" | undefined) ?? "info",
});

let modem: ByteLink;
if (modemConfig.link === "tcp") {
  modem = tcpLink({ address: modemConfig.address ?? "127.0.0.1", port: modemConfig.tcpPort ?? 5555 });
} else {
  modem = uartLink({ port: modemConfig.port ?? 1, transmit: modemConfig.transmit!, receive: modemConfig.receive!, baud: modemConfig.baud ?? 115200 });
}

firmwareEntries["device-boot"]!({}, { platform, link: () => modem, print: (text) => trace(text) }).then(
  (result) => trace(`boot: ${JSON.stringify(result)}\n`),
  (error: unknown) => trace(`boot failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`),
);
