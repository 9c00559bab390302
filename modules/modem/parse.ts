/**
 * Small parsers for modem answers. Every answer is hostile until parsed: fields are bounded,
 * numbers are checked against their range, and anything else is a ModemResponseError that
 * quotes (a bounded piece of) the offending text.
 */
import { ModemResponseError } from "./errors.js";

/** Longest answer text these parsers look at. */
const MAX_FIELDS_TEXT = 600;
const MAX_FIELDS = 32;

export interface Field {
  value: string;
  quoted: boolean;
}

/** Text of a line for error messages: bounded, control characters escaped. */
export function quoteForError(text: string): string {
  let out = "";
  for (let i = 0; i < text.length && i < 80; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || c > 0x7e ? `\\x${(c < 16 ? "0" : "") + c.toString(16)}` : text[i];
  }
  return JSON.stringify(text.length > 80 ? `${out}…` : out);
}

/**
 * Splits `a,"b,c",d` into fields, honouring double quotes (no escapes inside quotes, as in
 * V.250 string constants). Spaces around unquoted fields are trimmed.
 */
export function splitFields(text: string): Field[] {
  if (text.length > MAX_FIELDS_TEXT) throw new ModemResponseError(`answer of ${text.length} characters is too long to parse`);
  const fields: Field[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && text[i] === " ") i++;
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new ModemResponseError(`unterminated quoted field in ${quoteForError(text)}`);
      fields.push({ value: text.slice(i + 1, end), quoted: true });
      i = end + 1;
      while (i < text.length && text[i] === " ") i++;
      if (i < text.length && text[i] !== ",") throw new ModemResponseError(`text after a quoted field in ${quoteForError(text)}`);
    } else {
      const comma = text.indexOf(",", i);
      const end = comma < 0 ? text.length : comma;
      fields.push({ value: text.slice(i, end).trim(), quoted: false });
      i = end;
    }
    if (fields.length > MAX_FIELDS) throw new ModemResponseError(`more than ${MAX_FIELDS} fields in ${quoteForError(text)}`);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

/** The text after `prefix` (e.g. "+QIOPEN:"), trimmed; ModemResponseError when the line does not start with it. */
export function afterPrefix(line: string, prefix: string): string {
  if (!line.startsWith(prefix)) throw new ModemResponseError(`expected ${prefix} but got ${quoteForError(line)}`);
  return line.slice(prefix.length).trim();
}

/** Fields of an information line `prefix a,b,...`. */
export function fieldsOf(line: string, prefix: string): Field[] {
  return splitFields(afterPrefix(line, prefix));
}

/** A decimal integer in [min, max]; `what` names it in the error. */
export function parseInteger(text: string | undefined, min: number, max: number, what: string): number {
  if (text === undefined || !/^\s*-?\d{1,10}\s*$/.test(text)) throw new ModemResponseError(`${what} is not a number: ${quoteForError(text ?? "(missing)")}`);
  const value = Number(text.trim());
  if (value < min || value > max) throw new ModemResponseError(`${what} ${value} is outside ${min}..${max}`);
  return value;
}

/** Field `index` as an integer in [min, max]. */
export function integerField(fields: readonly Field[], index: number, min: number, max: number, what: string): number {
  const field = fields[index];
  if (!field || field.quoted) throw new ModemResponseError(`${what} is missing or quoted`);
  return parseInteger(field.value, min, max, what);
}

/** The first line starting with `prefix`; ModemResponseError when there is none. */
export function lineWith(lines: readonly string[], prefix: string, command: string): string {
  for (const line of lines) if (line.startsWith(prefix)) return line;
  throw new ModemResponseError(`${command}: no ${prefix} line in the answer`);
}

/**
 * The 27.007 `+CCLK` time `yy/MM/dd,hh:mm:ss±zz` (zz in quarter hours; some modems omit it or
 * print a 4-digit year) as a Date in UTC. yy 70..99 are 1970..1999, 00..69 are 2000..2069.
 */
export function parseClock(text: string): Date {
  const match = /^"?(\d{2}|\d{4})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})(?:([+-])(\d{1,2}))?"?$/.exec(text.trim());
  if (!match) throw new ModemResponseError(`clock ${quoteForError(text)} is not yy/MM/dd,hh:mm:ss±zz`);
  const yearText = match[1]!;
  // Two-digit years pivot at 70: modems count from 1980 (Quectel) or 2000 before network time arrives.
  const year = yearText.length === 2 ? (Number(yearText) >= 70 ? 1900 : 2000) + Number(yearText) : Number(yearText);
  const [month, day, hour, minute, second] = [2, 3, 4, 5, 6].map((i) => Number(match[i]));
  if (month! < 1 || month! > 12 || day! < 1 || day! > 31 || hour! > 23 || minute! > 59 || second! > 60) {
    throw new ModemResponseError(`clock ${quoteForError(text)} has a field out of range`);
  }
  const quarters = match[8] === undefined ? 0 : Number(match[8]) * (match[7] === "-" ? -1 : 1);
  if (Math.abs(quarters) > 14 * 4) throw new ModemResponseError(`clock ${quoteForError(text)} has time zone ${quarters} quarter hours`);
  // The modem prints local time; UTC = local − zone.
  const utc = Date.UTC(year, month! - 1, day!, hour!, minute!, second!) - quarters * 15 * 60_000;
  const date = new Date(utc);
  if (Number.isNaN(date.getTime()) || new Date(Date.UTC(year, month! - 1, day!)).getUTCDate() !== day) {
    throw new ModemResponseError(`clock ${quoteForError(text)} is not a real date`);
  }
  return date;
}

/**
 * The `<stat>` of a +CEREG/+CGREG/+CREG line. The read answer is `<n>,<stat>[,...]`, the URC is
 * `<stat>[,"<tac>",...]`: in the read form the second field is an unquoted number.
 */
export function registrationStatus(line: string, prefix: string, form: "read" | "urc"): number {
  const fields = fieldsOf(line, prefix);
  if (form === "read") return integerField(fields, 1, 0, 11, `${prefix} <stat>`);
  return integerField(fields, 0, 0, 11, `${prefix} <stat>`);
}

/** Checks a string that goes inside double quotes on a command line (APN, host, user). */
export function checkQuotable(text: string, what: string, maxLength: number): void {
  if (text.length > maxLength) throw new RangeError(`${what} is longer than ${maxLength} characters`);
  if (!/^[\x20\x21\x23-\x7e]*$/.test(text)) throw new RangeError(`${what} must be printable ASCII without double quotes`);
}
