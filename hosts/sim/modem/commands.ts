/**
 * The command-table contract between the virtual modem and its command sets. The generic
 * 27.007 set (generic-commands.ts) is one table; a vendor dialect adds or replaces entries by
 * name. A handler writes information lines through its context and returns to answer `OK`, or
 * throws AtSyntaxError (`ERROR`) / CmeError (`+CME ERROR`).
 */
import type { AtCommand, AtParameter } from "./at-syntax.js";
import { parseParameters } from "./at-syntax.js";
import { AtSyntaxError, CME, CmeError } from "./errors.js";
import type { AtPort, VirtualModem } from "./virtual-modem.js";

export interface CommandContext {
  readonly modem: VirtualModem;
  /** The AT port (one connected byte link) the command arrived on; holds echo/CMEE/URC settings. */
  readonly port: AtPort;
  /** Writes one information line (framed per ATV: `\r\n<line>\r\n` in verbose mode). */
  info(line: string): void;
  /** Writes bytes unframed: data prompts (`> `, `@`) or payloads after a length header. */
  raw(bytes: Uint8Array): void;
  /**
   * Switches the port's input to raw mode and resolves with exactly `count` bytes (for data sent
   * after a prompt). Rejects with DataTimeoutError after `timeoutMs`, or LinkClosedError.
   */
  readData(count: number, timeoutMs: number): Promise<Uint8Array>;
  /** Replaces the final result code: a text such as "SEND OK", or null for none at all. */
  setFinalResult(result: string | null): void;
  /** Runs `action` once the final result code has been written (e.g. a reset after `OK`). */
  afterFinalResult(action: () => void): void;
}

export type CommandHandler = (context: CommandContext, command: AtCommand) => void | Promise<void>;

/** Command tables are keyed by upper-case name ("+CSIM", "E", "&F"). */
export type CommandTable = Record<string, CommandHandler>;

export interface FormHandlers {
  action?: CommandHandler;
  read?: CommandHandler;
  test?: CommandHandler;
  set?: (context: CommandContext, params: AtParameter[], command: AtCommand) => void | Promise<void>;
}

/** A handler that dispatches on the command's form; a form without a handler answers `ERROR`. */
export function byForm(handlers: FormHandlers): CommandHandler {
  return (context, command) => {
    if (command.form === "set") {
      if (!handlers.set) throw new AtSyntaxError(`${command.name} has no set form`);
      return handlers.set(context, parseParameters(command.args), command);
    }
    const handler = handlers[command.form];
    if (!handler) throw new AtSyntaxError(`${command.name} has no ${command.form} form`);
    return handler(context, command);
  };
}

/** Largest integer a parameter may carry (keeps parsing exact and bounded). */
const MAX_INTEGER_DIGITS = 10;

/** Reads parameter `index` as a decimal integer in [min, max]; CME 50 when absent or invalid. */
export function integerParam(params: AtParameter[], index: number, min: number, max: number): number {
  const value = optionalIntegerParam(params, index, min, max);
  if (value === undefined) throw new CmeError(CME.INCORRECT_PARAMETERS, `parameter ${index + 1} is missing`);
  return value;
}

/** Like {@link integerParam} but undefined when the parameter is absent or empty. */
export function optionalIntegerParam(params: AtParameter[], index: number, min: number, max: number): number | undefined {
  const param = params[index];
  if (param === undefined || (param.value === "" && !param.quoted)) return undefined;
  const text = param.value;
  if (param.quoted || text.length > MAX_INTEGER_DIGITS || !/^[0-9]+$/.test(text)) {
    throw new CmeError(CME.INCORRECT_PARAMETERS, `parameter ${index + 1} is not an integer: ${JSON.stringify(text.slice(0, 20))}`);
  }
  const value = Number(text);
  if (value < min || value > max) throw new CmeError(CME.INCORRECT_PARAMETERS, `parameter ${index + 1} (${value}) is outside ${min}..${max}`);
  return value;
}

/** Reads parameter `index` as a string (quoted or not); CME 50 when absent. */
export function stringParam(params: AtParameter[], index: number): string {
  const param = params[index];
  if (param === undefined) throw new CmeError(CME.INCORRECT_PARAMETERS, `parameter ${index + 1} is missing`);
  return param.value;
}

/** CME 50 unless there are between `min` and `max` parameters. */
export function expectParamCount(params: AtParameter[], min: number, max: number): void {
  if (params.length < min || params.length > max) {
    throw new CmeError(CME.INCORRECT_PARAMETERS, `expected ${min === max ? min : `${min}..${max}`} parameters, got ${params.length}`);
  }
}
