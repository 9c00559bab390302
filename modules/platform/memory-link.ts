import { concatBytes } from "../bytes/bytes.js";
import { type ByteLink, LinkClosedError } from "./platform.js";

/** Schedules `fn` after the current job, without timers (works on every host). */
function later(fn: () => void): void {
  void Promise.resolve().then(fn);
}

/** One end of an in-memory link; bytes written to one end become readable at the other. */
class MemoryLinkEnd implements ByteLink {
  onReadable: ((count: number) => void) | undefined;
  onClose: ((error?: Error) => void) | undefined;
  peer: MemoryLinkEnd | undefined;
  #received: Uint8Array[] = [];
  #receivedBytes = 0;
  #closed = false;
  #notifyPending = false;

  get readable(): number {
    return this.#receivedBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(bytes: Uint8Array): void {
    if (this.#closed) throw new LinkClosedError();
    if (bytes.length === 0) return;
    this.peer?.deliver(bytes.slice());
  }

  read(max?: number): Uint8Array | undefined {
    if (this.#receivedBytes === 0) return undefined;
    const all = this.#received.length === 1 ? this.#received[0]! : concatBytes(...this.#received);
    const take = max === undefined ? all.length : Math.max(0, Math.min(max, all.length));
    if (take === 0) return undefined;
    const rest = all.subarray(take);
    this.#received = rest.length > 0 ? [rest] : [];
    this.#receivedBytes = rest.length;
    return all.slice(0, take);
  }

  close(): void {
    this.shutDown(undefined);
    this.peer?.shutDown(undefined);
  }

  /** Ends both directions with `error`, as a broken wire or a reset peer would. */
  fail(error: Error): void {
    this.shutDown(error);
    this.peer?.shutDown(error);
  }

  deliver(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#received.push(bytes);
    this.#receivedBytes += bytes.length;
    if (this.#notifyPending) return;
    this.#notifyPending = true;
    later(() => {
      this.#notifyPending = false;
      if (this.#receivedBytes > 0 && !this.#closed) this.onReadable?.(this.#receivedBytes);
    });
  }

  shutDown(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    later(() => this.onClose?.(error));
  }
}

export type MemoryLink = MemoryLinkEnd;

/** Two connected in-memory link ends, for tests and for wiring simulators in one process. */
export function memoryLinkPair(): [MemoryLink, MemoryLink] {
  const a = new MemoryLinkEnd();
  const b = new MemoryLinkEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
