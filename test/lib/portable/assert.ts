/**
 * Assertions for tests that run both on Node (mocha) and inside XS (our harness), where
 * node:assert does not exist. Failures throw AssertionFailure with a message that shows both sides.
 */
import { toHex } from "../../../modules/bytes/bytes.js";

export class AssertionFailure extends Error {
  override name = "AssertionFailure";
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) return `bytes(${value.length}) ${toHex(value)}`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : typeof v === "bigint" ? `${v}n` : v));
  } catch {
    return String(value);
  }
}

function fail(message: string | undefined, detail: string): never {
  throw new AssertionFailure(message ? `${message}: ${detail}` : detail);
}

export function ok(value: unknown, message?: string): asserts value {
  if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
}

export function equal<T>(actual: T, expected: T, message?: string): void {
  if (!Object.is(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
}

export function notEqual<T>(actual: T, unexpected: T, message?: string): void {
  if (Object.is(actual, unexpected)) fail(message, `expected anything but ${show(unexpected)}`);
}

function deepEq(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((x, i) => deepEq(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

export function deepEqual<T>(actual: T, expected: T, message?: string): void {
  if (!deepEq(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
}

export function match(text: string, pattern: RegExp, message?: string): void {
  if (!pattern.test(text)) fail(message, `expected ${show(text)} to match ${pattern}`);
}

type ErrorClass = abstract new (...args: never[]) => Error;

function checkError(error: unknown, type: ErrorClass | undefined, pattern: RegExp | undefined, message: string | undefined): Error {
  if (!(error instanceof Error)) fail(message, `expected an Error, got ${show(error)}`);
  const got = `${error.name}: ${error.message}`;
  if (type && !(error instanceof type)) fail(message, `expected ${type.name}, got ${got}`);
  if (pattern && !pattern.test(error.message)) fail(message, `expected message matching ${pattern}, got ${show(error.message)}`);
  return error;
}

/** Runs `fn`, expects it to throw (an instance of `type`, with a message matching `pattern`), returns the error. */
export function throws(fn: () => unknown, type?: ErrorClass, pattern?: RegExp, message?: string): Error {
  try {
    fn();
  } catch (error) {
    return checkError(error, type, pattern, message);
  }
  fail(message, "expected the call to throw, it returned");
}

/** Awaits `promise`, expects it to reject (as for {@link throws}), returns the error. */
export async function rejects(promise: Promise<unknown> | (() => Promise<unknown>), type?: ErrorClass, pattern?: RegExp, message?: string): Promise<Error> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    return checkError(error, type, pattern, message);
  }
  fail(message, "expected the promise to reject, it resolved");
}
