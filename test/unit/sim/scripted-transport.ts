/**
 * Test doubles for the card layer: a transport that plays a script of (expected command → answer)
 * pairs and fails loudly on any deviation, and an AT port that does the same for AT lines.
 * Expected strings in tests come from the docs (iotsafe.md §5, §10), never from the code under test.
 */
import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import type { ApduTransport, AtCommandPort, TransmitOptions } from "../../../modules/sim/transport.js";
import { AssertionFailure } from "../../lib/portable/assert.js";

/** One step: the APDU expected (upper-case hex, spaces ignored, or a pattern) and the card's answer (hex). */
export type ApduStep = [expected: string | RegExp, answer: string];

const clean = (hex: string) => hex.split(" ").join("").toUpperCase();

export class ScriptedTransport implements ApduTransport {
  readonly name = "scripted card";
  readonly sent: string[] = [];
  readonly timeouts: (number | undefined)[] = [];
  readonly #steps: ApduStep[];

  constructor(steps: ApduStep[]) {
    this.#steps = [...steps];
  }

  get remaining(): number {
    return this.#steps.length;
  }

  async transmit(apdu: Uint8Array, options?: TransmitOptions): Promise<Uint8Array> {
    const hex = toHex(apdu).toUpperCase();
    this.sent.push(hex);
    this.timeouts.push(options?.timeoutMs);
    const step = this.#steps.shift();
    if (!step) throw new AssertionFailure(`unexpected APDU #${this.sent.length} ${hex}: the script has ended`);
    const [expected, answer] = step;
    const matches = typeof expected === "string" ? clean(expected) === hex : expected.test(hex);
    if (!matches) throw new AssertionFailure(`APDU #${this.sent.length}: expected ${typeof expected === "string" ? clean(expected) : expected}, got ${hex}`);
    return fromHex(clean(answer));
  }

  /** Fails unless every scripted step was used. */
  assertDone(): void {
    if (this.#steps.length > 0) throw new AssertionFailure(`${this.#steps.length} scripted APDUs never sent, next: ${String(this.#steps[0]![0])}`);
  }
}

/** One AT step: the command line expected and either the response lines (final OK) or an error to throw. */
export type AtStep = [expected: string, answer: { lines?: string[]; error?: Error }];

export class ScriptedAtPort implements AtCommandPort {
  readonly sent: { command: string; prefix: string | undefined; timeoutMs: number | undefined }[] = [];
  readonly #steps: AtStep[];

  constructor(steps: AtStep[]) {
    this.#steps = [...steps];
  }

  get remaining(): number {
    return this.#steps.length;
  }

  async send(command: string, options: { prefix?: string; timeoutMs?: number } = {}): Promise<{ lines: string[]; final: string }> {
    this.sent.push({ command, prefix: options.prefix, timeoutMs: options.timeoutMs });
    const step = this.#steps.shift();
    if (!step) throw new AssertionFailure(`unexpected AT command ${command}: the script has ended`);
    if (step[0] !== command) throw new AssertionFailure(`AT command #${this.sent.length}: expected ${step[0]}, got ${command}`);
    if (step[1].error) throw step[1].error;
    return { lines: step[1].lines ?? [], final: "OK" };
  }

  assertDone(): void {
    if (this.#steps.length > 0) throw new AssertionFailure(`${this.#steps.length} scripted AT commands never sent, next: ${this.#steps[0]![0]}`);
  }
}
