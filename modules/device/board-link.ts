/**
 * The board's modem power key and reset pin, reached over a byte link: how firmware running on a
 * desktop (in XS or on Node) presses the virtual modem's buttons. On an ESP32 board these hooks
 * are GPIOs (hosts/esp32); in the simulator the host attaches a link named "board" and answers.
 *
 * Protocol: one request line at a time, "power-on", "power-off" or "hard-reset" (LF-terminated);
 * the host answers "ok" once the pulse is done, or "error <text>". Lines are bounded.
 */
import { bytesToAscii, asciiToBytes } from "../bytes/bytes.js";
import type { BoardHooks } from "../modem/types.js";
import type { ByteLink, Platform } from "../platform/platform.js";
import { TimeoutError, withTimeout } from "../platform/time.js";

export type BoardRequest = "power-on" | "power-off" | "hard-reset";

export class BoardLinkError extends Error {
  override name = "BoardLinkError";
}

const MAX_LINE = 200;

export function boardHooksOverLink(link: ByteLink, platform: Platform, timeoutMs = 30000): BoardHooks {
  let buffered = "";
  let waiter: ((line: string | Error) => void) | undefined;
  let closed: Error | undefined;
  let queue: Promise<void> = Promise.resolve();
  link.onReadable = () => {
    const bytes = link.read();
    if (!bytes) return;
    buffered += bytesToAscii(bytes);
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
      const line = buffered.slice(0, newline).replace(/\r$/, "");
      buffered = buffered.slice(newline + 1);
      const w = waiter;
      waiter = undefined;
      w?.(line);
    }
    if (buffered.length > MAX_LINE) {
      buffered = "";
      const w = waiter;
      waiter = undefined;
      w?.(new BoardLinkError(`board answer longer than ${MAX_LINE} characters`));
    }
  };
  link.onClose = (error) => {
    closed = new BoardLinkError(`board link closed${error ? `: ${error.message}` : ""}`);
    const w = waiter;
    waiter = undefined;
    w?.(closed);
  };
  const request = (what: BoardRequest): Promise<void> => {
    const run = async () => {
      if (closed) throw closed;
      const answer = new Promise<string | Error>((resolve) => (waiter = resolve));
      link.write(asciiToBytes(what + "\n"));
      const line = await withTimeout(platform, answer, timeoutMs, () => new TimeoutError(`board: no answer to ${what} within ${timeoutMs} ms`)).catch((error: unknown) => {
        waiter = undefined; // a late answer must not settle the next request
        throw error;
      });
      if (line instanceof Error) throw line;
      if (line !== "ok") throw new BoardLinkError(`board refused ${what}: ${line}`);
    };
    const result = queue.then(run);
    queue = result.catch(() => undefined);
    return result;
  };
  return {
    powerOn: () => request("power-on"),
    powerOff: () => request("power-off"),
    hardReset: () => request("hard-reset"),
  };
}
