import { randomFillSync } from "node:crypto";
import type { LogLevel, Platform, TimerHandle } from "../../modules/platform/platform.js";

export interface NodePlatformOptions {
  /** Lowest level printed; records below it are dropped. Default "info". */
  logLevel?: LogLevel;
  /** Where log lines go. Default: stderr. */
  write?: (line: string) => void;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The platform interface on Node: real timers, performance.now, node:crypto randomness. */
export function nodePlatform(options: NodePlatformOptions = {}): Platform {
  const minRank = LEVEL_RANK[options.logLevel ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const origin = performance.now();
  return {
    now: () => performance.now() - origin,
    wallClock: () => Date.now(),
    setTimer: (callback, ms) => setTimeout(callback, ms) as unknown as TimerHandle,
    clearTimer: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
    log: (level, tag, message) => {
      if (LEVEL_RANK[level] >= minRank) write(`[${level}] ${tag}: ${message}`);
    },
    randomBytes: (count) => randomFillSync(new Uint8Array(count)),
  };
}
