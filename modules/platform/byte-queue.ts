/**
 * Received bytes waiting to be read, as the chunks they arrived in: reading takes bytes from
 * the front without concatenating everything that is queued. Every ByteLink uses one.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #length = 0;

  /** Bytes queued. */
  get length(): number {
    return this.#length;
  }

  /** Queues `bytes` (kept by reference: pass a copy if the caller reuses its array). */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }

  /** Takes up to `max` bytes (all by default) from the front; undefined when there are none to take. */
  take(max?: number): Uint8Array | undefined {
    const count = max === undefined ? this.#length : Math.max(0, Math.min(Math.floor(max), this.#length));
    if (count === 0) return undefined;
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const head = this.#chunks[0]!;
      const n = Math.min(head.length, count - filled);
      out.set(head.subarray(0, n), filled);
      filled += n;
      if (n === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(n);
    }
    this.#length -= count;
    return out;
  }

  clear(): void {
    this.#chunks = [];
    this.#length = 0;
  }
}
