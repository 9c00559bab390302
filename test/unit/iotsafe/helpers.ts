/** Shared pieces of the IoT SAFE client unit tests: a client over a scripted card, and doc constants. */
import { IotSafeClient, type IotSafeClientOptions } from "../../../modules/iotsafe/client.js";
import { ManageChannelAccess } from "../../../modules/sim/manage-channel.js";
import { type ApduStep, ScriptedTransport } from "../sim/scripted-transport.js";

/** SHA-256("hello world"), the digest of iotsafe.md §5. */
export const HELLO_DIGEST = "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9";

/**
 * r and s of the Thales README JWT signature (iotsafe.md §5.1, "Converting the result"): the doc
 * gives their first and last four bytes; the middle is filler. Both start with a byte ≥ 0x80.
 */
export const JWT_R = "C0C1B4B2" + "11".repeat(24) + "06BBD73B";
export const JWT_S = "8032E0E9" + "22".repeat(24) + "121DCE51";

/** MANAGE CHANNEL open → channel 1, SELECT of the GSMA AID on it (iotsafe.md §5.1 steps 1–2). */
export const OPEN_CHANNEL_1: ApduStep[] = [
  ["0070000001", "019000"],
  ["01A4040007A0000005590010", "9000"],
];

export function clientOver(steps: ApduStep[], options: IotSafeClientOptions = {}): { card: ScriptedTransport; client: IotSafeClient } {
  const card = new ScriptedTransport(steps);
  const client = new IotSafeClient(new ManageChannelAccess(card), { recoverStaleChannels: false, ...options });
  return { card, client };
}
