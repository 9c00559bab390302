/**
 * Logical-channel coding of the class byte (ISO 7816-4 §5.4.1, ETSI TS 102 221 §10.1.1):
 * - channels 0–3, "first" coding: b8 proprietary, b5 chaining, b4–b3 secure messaging, b2–b1 channel
 *   → interindustry `0n`, proprietary `8n`;
 * - channels 4–19, "further" coding: b7 set, b6 secure messaging, b5 chaining, b4–b1 = channel − 4
 *   → interindustry `40 + (n−4)`, proprietary `C0 + (n−4)`.
 */
import { ChannelError } from "./errors.js";

export const MAX_LOGICAL_CHANNEL = 19;

export function checkChannel(channel: number): void {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_LOGICAL_CHANNEL) {
    throw new ChannelError(`logical channel ${channel} is outside 0..${MAX_LOGICAL_CHANNEL}`);
  }
}

/** The CLA for `channel`, interindustry (`0n`/`4x`) or proprietary (`8n`/`Cx`), no chaining, no secure messaging. */
export function classByteForChannel(channel: number, proprietary: boolean): number {
  checkChannel(channel);
  const base = proprietary ? 0x80 : 0x00;
  return channel < 4 ? base | channel : base | 0x40 | (channel - 4);
}

/** True when CLA has b8 set (proprietary class, e.g. `8n`, `Cx`, GSM `A0`). */
export function isProprietaryClass(cla: number): boolean {
  return (cla & 0x80) !== 0;
}

/** The logical channel a CLA addresses. */
export function channelOfClassByte(cla: number): number {
  if ((cla & 0x40) !== 0) return 4 + (cla & 0x0f);
  return cla & 0x03;
}

/**
 * `cla` moved to `channel`, keeping its class (interindustry/proprietary) and chaining bit.
 * Secure messaging is not used here and is refused rather than silently dropped.
 */
export function withChannel(cla: number, channel: number): number {
  checkChannel(channel);
  if (cla === 0xff) throw new ChannelError("CLA FF is reserved");
  const further = (cla & 0x40) !== 0;
  const secureMessaging = further ? cla & 0x20 : cla & 0x0c;
  if (secureMessaging) throw new ChannelError(`CLA ${cla.toString(16)} uses secure messaging, which is not supported`);
  const chaining = cla & 0x10;
  const proprietary = cla & 0x80;
  return channel < 4 ? proprietary | chaining | channel : proprietary | 0x40 | chaining | (channel - 4);
}
