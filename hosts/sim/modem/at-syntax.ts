/**
 * The modem side of V.250 syntax: assembling command lines from raw bytes (bounded), splitting a
 * line into basic and extended commands, and splitting extended-command arguments. All input is
 * hostile: every function here is bounded and fails with AtSyntaxError, never by hanging.
 */
import { AtSyntaxError } from "./errors.js";

const CR = 0x0d;
const LF = 0x0a;
const BACKSPACE = 0x08;

export type AssembledLine =
  /** A complete line (without its CR); the bytes as edited by backspace. */
  | { kind: "line"; bytes: Uint8Array }
  /** A line longer than the buffer; its bytes were discarded up to and including its CR. */
  | { kind: "overflow" };

/**
 * Collects command-line bytes up to CR (S3). LF is dropped (so `\r\n` endings work), backspace
 * (S5) deletes the previous character, and a line that outgrows `maxLength` is discarded whole.
 * With `terminator: "crlf"` (the nRF91 SLM's default) a line ends only at CR LF: a lone CR is an
 * ordinary character and LF without CR before it is too.
 */
export class CommandLineAssembler {
  readonly #buffer: Uint8Array;
  readonly #crlf: boolean;
  #length = 0;
  #overflowed = false;
  #previous = -1;

  constructor(
    readonly maxLength: number,
    terminator: "cr" | "crlf" = "cr",
  ) {
    if (!Number.isInteger(maxLength) || maxLength < 8) throw new RangeError(`line buffer of ${maxLength} bytes is too small`);
    this.#buffer = new Uint8Array(maxLength);
    this.#crlf = terminator === "crlf";
  }

  /** Bytes held for the line in progress. */
  get pending(): number {
    return this.#length;
  }

  /**
   * Consumes `input` from `offset` until a line ends or the input runs out. Returns the offset
   * of the first byte not consumed and the line, if one ended.
   */
  push(input: Uint8Array, offset = 0): { next: number; line: AssembledLine | undefined } {
    if (this.#crlf) return this.#pushCrLf(input, offset);
    for (let i = offset; i < input.length; i++) {
      const byte = input[i]!;
      if (byte === CR) {
        const line: AssembledLine = this.#overflowed ? { kind: "overflow" } : { kind: "line", bytes: this.#buffer.slice(0, this.#length) };
        this.reset();
        return { next: i + 1, line };
      }
      if (byte === LF) continue;
      if (this.#overflowed) continue;
      if (byte === BACKSPACE) {
        if (this.#length > 0) this.#length--;
        continue;
      }
      if (this.#length >= this.maxLength) {
        this.#overflowed = true;
        continue;
      }
      this.#buffer[this.#length++] = byte;
    }
    return { next: input.length, line: undefined };
  }

  #pushCrLf(input: Uint8Array, offset: number): { next: number; line: AssembledLine | undefined } {
    for (let i = offset; i < input.length; i++) {
      const byte = input[i]!;
      const previous = this.#previous;
      this.#previous = byte;
      if (byte === LF && previous === CR) {
        // The CR was stored as an ordinary character: take it back.
        if (!this.#overflowed && this.#length > 0) this.#length--;
        const line: AssembledLine = this.#overflowed ? { kind: "overflow" } : { kind: "line", bytes: this.#buffer.slice(0, this.#length) };
        this.reset();
        return { next: i + 1, line };
      }
      if (this.#overflowed) continue;
      if (byte === BACKSPACE) {
        if (this.#length > 0) this.#length--;
        continue;
      }
      if (this.#length >= this.maxLength) {
        this.#overflowed = true;
        continue;
      }
      this.#buffer[this.#length++] = byte;
    }
    return { next: input.length, line: undefined };
  }

  reset(): void {
    this.#length = 0;
    this.#overflowed = false;
    this.#previous = -1;
  }
}

/** The form of an invocation: `AT+X` action, `AT+X?` read, `AT+X=?` test, `AT+X=<args>` set. */
export type CommandForm = "action" | "read" | "test" | "set";

export interface AtCommand {
  /** Upper-case name: "E", "&F", "S3" (basic) or "+CSIM", "#XSOCKET", "%CMNG" (extended). */
  name: string;
  form: CommandForm;
  /** For set: the text after "=" (up to `;` outside quotes). For basic commands: their digits. */
  args: string;
}

/**
 * Finds the "AT" prefix (either case; anything before it is line noise, as V.250 §5.2.1 lets the
 * DCE ignore) and returns the text after it, or undefined when the line has no prefix.
 */
export function commandLineBody(line: string): string | undefined {
  for (let i = 0; i + 1 < line.length; i++) {
    const a = line.charCodeAt(i) | 0x20;
    const t = line.charCodeAt(i + 1) | 0x20;
    if (a === 0x61 && t === 0x74) return line.slice(i + 2);
  }
  return undefined;
}

const EXTENDED_PREFIXES = "+#%$^*";
/** Characters V.250 §5.4.1 allows in extended command names (after the prefix). */
function isNameChar(c: string): boolean {
  return (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || "!%-./:_".includes(c);
}
function isLetter(c: string): boolean {
  return (c >= "A" && c <= "Z") || (c >= "a" && c <= "z");
}
function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

/** Most commands one line may carry; more is refused as a syntax error. */
export const MAX_COMMANDS_PER_LINE = 32;

/**
 * Splits the body of a command line (after "AT") into commands: basic ones (`E0`, `V1`, `&F`,
 * `S3=13`) run together, extended ones (`+CMEE=1`) separated by `;`. Spaces outside quotes are
 * ignored. Throws AtSyntaxError on anything else.
 */
export function parseCommandLine(body: string): AtCommand[] {
  const commands: AtCommand[] = [];
  let i = 0;
  const skipSpaces = (): void => {
    while (i < body.length && body[i] === " ") i++;
  };
  while (true) {
    skipSpaces();
    if (i >= body.length) break;
    if (commands.length >= MAX_COMMANDS_PER_LINE) throw new AtSyntaxError(`more than ${MAX_COMMANDS_PER_LINE} commands on one line`);
    const c = body[i]!;
    if (c === ";") {
      i++;
      continue;
    }
    if (EXTENDED_PREFIXES.includes(c)) {
      let end = i + 1;
      while (end < body.length && isNameChar(body[end]!)) end++;
      if (end === i + 1) throw new AtSyntaxError(`extended command prefix ${JSON.stringify(c)} without a name`);
      const name = body.slice(i, end).toUpperCase();
      i = end;
      skipSpaces();
      let form: CommandForm = "action";
      let args = "";
      if (body[i] === "?") {
        form = "read";
        i++;
      } else if (body[i] === "=") {
        i++;
        skipSpaces();
        if (body[i] === "?") {
          form = "test";
          i++;
        } else {
          form = "set";
          const start = i;
          let quoted = false;
          while (i < body.length && (quoted || body[i] !== ";")) {
            if (body[i] === '"') quoted = !quoted;
            i++;
          }
          if (quoted) throw new AtSyntaxError(`unterminated string in arguments of ${name}`);
          args = body.slice(start, i);
        }
      }
      skipSpaces();
      if (i < body.length && body[i] !== ";") throw new AtSyntaxError(`unexpected ${JSON.stringify(body[i])} after ${name}`);
      commands.push({ name, form, args });
      continue;
    }
    if (c === "&" || isLetter(c)) {
      let name = c.toUpperCase();
      i++;
      if (c === "&") {
        if (i >= body.length || !isLetter(body[i]!)) throw new AtSyntaxError("'&' without a command letter");
        name += body[i]!.toUpperCase();
        i++;
      }
      if (name === "S") {
        // S-parameter: S<n>? or S<n>=<value>
        const start = i;
        while (i < body.length && isDigit(body[i]!)) i++;
        if (i === start || i - start > 3) throw new AtSyntaxError("S-parameter without a valid number");
        name += body.slice(start, i);
        if (body[i] === "?") {
          i++;
          commands.push({ name, form: "read", args: "" });
        } else if (body[i] === "=") {
          i++;
          const valueStart = i;
          while (i < body.length && isDigit(body[i]!)) i++;
          commands.push({ name, form: "set", args: body.slice(valueStart, i) });
        } else {
          throw new AtSyntaxError(`S-parameter ${name} needs '?' or '='`);
        }
        continue;
      }
      const start = i;
      while (i < body.length && isDigit(body[i]!)) i++;
      if (i - start > 3) throw new AtSyntaxError(`basic command ${name} has an over-long value`);
      commands.push({ name, form: "action", args: body.slice(start, i) });
      continue;
    }
    throw new AtSyntaxError(`unexpected character ${JSON.stringify(c)} in command line`);
  }
  return commands;
}

export interface AtParameter {
  /** The value: the text inside the quotes, or the unquoted token with surrounding spaces removed. */
  value: string;
  quoted: boolean;
}

/** Most parameters one extended command may carry. */
export const MAX_PARAMETERS = 32;

/**
 * Splits extended-command arguments at commas outside quotes. A parameter is empty, one quoted
 * string, or an unquoted token; spaces around it are ignored. Throws AtSyntaxError otherwise.
 */
export function parseParameters(args: string): AtParameter[] {
  const params: AtParameter[] = [];
  let i = 0;
  while (true) {
    if (params.length >= MAX_PARAMETERS) throw new AtSyntaxError(`more than ${MAX_PARAMETERS} parameters`);
    while (i < args.length && args[i] === " ") i++;
    let param: AtParameter;
    if (args[i] === '"') {
      const close = args.indexOf('"', i + 1);
      if (close < 0) throw new AtSyntaxError("unterminated string parameter");
      param = { value: args.slice(i + 1, close), quoted: true };
      i = close + 1;
      while (i < args.length && args[i] === " ") i++;
      if (i < args.length && args[i] !== ",") throw new AtSyntaxError(`unexpected ${JSON.stringify(args[i])} after a string parameter`);
    } else {
      const comma = args.indexOf(",", i);
      const end = comma < 0 ? args.length : comma;
      const token = args.slice(i, end).trim();
      if (token.includes('"')) throw new AtSyntaxError(`stray quote in parameter ${JSON.stringify(token)}`);
      param = { value: token, quoted: false };
      i = end;
    }
    params.push(param);
    if (i >= args.length) break;
    i++; // the comma
  }
  return params;
}
