import type { Platform, TimerHandle } from "./platform.js";

export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** Resolves after `ms` milliseconds of the platform's timers. */
export function sleep(platform: Platform, ms: number): Promise<void> {
  return new Promise((resolve) => {
    platform.setTimer(resolve, ms);
  });
}

/**
 * Settles like `promise`, or rejects with `makeError()` if it has not settled after `ms`.
 * The timer is always cleared, so nothing fires late.
 */
export function withTimeout<T>(
  platform: Platform,
  promise: Promise<T>,
  ms: number,
  makeError: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let handle: TimerHandle | undefined = platform.setTimer(() => {
      handle = undefined;
      reject(makeError());
    }, ms);
    promise.then(
      (value) => {
        if (handle === undefined) return;
        platform.clearTimer(handle);
        handle = undefined;
        resolve(value);
      },
      (error: unknown) => {
        if (handle === undefined) return;
        platform.clearTimer(handle);
        handle = undefined;
        reject(error);
      },
    );
  });
}
