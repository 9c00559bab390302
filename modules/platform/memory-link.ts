import { ByteQueue } from "./byte-queue.js";
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
  #received = new ByteQueue();
  #closed = false;
  #notifyPending = false;

  get readable(): number {
    return this.#received.length;
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
    return this.#received.take(max);
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
    if (this.#notifyPending) return;
    this.#notifyPending = true;
    later(() => {
      this.#notifyPending = false;
      if (this.#received.length > 0 && !this.#closed) this.onReadable?.(this.#received.length);
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
