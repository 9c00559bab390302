/** Hex in, hex out: sends one APDU written as hex (spaces allowed) and returns the answer as upper-case hex. */
import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import type { Card } from "./card.js";

export async function transmitHex(card: Card, apduHex: string): Promise<string> {
  return toHex(await card.transmit(fromHex(apduHex))).toUpperCase();
}

/** The status word (last 4 hex digits) and the data before it. */
export function splitResponseHex(responseHex: string): { data: string; sw: string } {
  return { data: responseHex.slice(0, -4), sw: responseHex.slice(-4) };
}
