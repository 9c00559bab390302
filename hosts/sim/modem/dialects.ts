/**
 * Modem dialects: a vendor's command set layered over the generic 27.007 table. A dialect adds or
 * replaces commands by name (sockets, prompts, vendor URCs), may override the identity strings, and
 * may say what the modem prints when it boots. The vendor dialects live in ./dialects/.
 */
import type { CommandTable } from "./commands.js";
import { vendorDialects } from "./dialects/index.js";
import { UnknownDialectError } from "./errors.js";
import type { ModemIdentity, VirtualModem } from "./virtual-modem.js";

export interface ModemDialect {
  /** Name used on the command line (`--dialect NAME`), e.g. "generic", "quectel-bg95". */
  readonly name: string;
  readonly summary: string;
  /** Identity strings the vendor's modems report (AT+CGMI/CGMM/CGMR, ATI). */
  readonly identity?: Partial<ModemIdentity>;
  /** Commands added to (or replacing those of) the generic table, keyed by upper-case name. */
  readonly commands?: CommandTable;
  /** URC lines written to every port when the modem (re)boots, e.g. ["RDY", "APP RDY"]. */
  readonly bootUrcs?: readonly string[];
  /** Text written as is (no framing) to every port after the boot URCs, e.g. the SLM's "Ready\r\n". */
  readonly bootText?: string;
  /** Called once when a modem is created with this dialect, to set up per-modem state. */
  install?(modem: VirtualModem): void;
  /** Called when the modem resets or closes: drop sockets and per-connection state (no URCs). */
  onReset?(modem: VirtualModem): void;
  /** The network dropped the data context: emit the dialect's URC and close its sockets. */
  dropDataContext?(modem: VirtualModem): void;
  /** AT+CFUN level at power-on when the modem options give none (Sequans and nRF91 boot in 0). */
  readonly initialFunctionality?: 0 | 1 | 4;
  /** The cid whose APN the LTE attach uses, for modems with no separate activation (a refused APN denies registration). */
  readonly defaultBearerCid?: number;
  /** How command lines end: CR (V.250 S3, the default; LF ignored) or CR LF only (nRF91 SLM). */
  readonly lineTermination?: "cr" | "crlf";
  /** Port settings after power-on and ATZ (the nRF91 SLM never echoes). */
  readonly portDefaults?: { readonly echo?: boolean };
  /** The longest payload one send command takes and one read command returns (for docs and the link model). */
  readonly limits?: { readonly send: number; readonly read: number };
}

export const genericDialect: ModemDialect = {
  name: "generic",
  summary: "V.250 + 3GPP TS 27.007 (SIM access, registration, identity); no vendor socket commands",
};

const dialects = new Map<string, ModemDialect>([[genericDialect.name, genericDialect], ...vendorDialects.map((d): [string, ModemDialect] => [d.name, d])]);

/** Makes a dialect available by name (for the CLI and startVirtualModem). */
export function registerModemDialect(dialect: ModemDialect): void {
  if (dialects.has(dialect.name)) throw new Error(`modem dialect ${dialect.name} registered twice`);
  dialects.set(dialect.name, dialect);
}

export function modemDialect(name: string): ModemDialect {
  const dialect = dialects.get(name);
  if (!dialect) throw new UnknownDialectError(`unknown modem dialect ${JSON.stringify(name)}; known: ${modemDialectNames().join(", ")}`);
  return dialect;
}

export function modemDialectNames(): string[] {
  return [...dialects.keys()].sort();
}
