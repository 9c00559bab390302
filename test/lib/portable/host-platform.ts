import type { Platform } from "../../../modules/platform/platform.js";

/**
 * The real platform of whatever runs the tests: Node's (set by test/setup.ts) or the XS
 * bridge's (set by the XS test harness). Tests that need real time or real randomness use it;
 * most unit tests use ManualPlatform instead.
 */
export function hostPlatform(): Platform {
  const platform = (globalThis as { __iotsafeHostPlatform?: Platform }).__iotsafeHostPlatform;
  if (!platform) throw new Error("no host platform registered (test/setup.ts on Node, the harness in XS)");
  return platform;
}

/** "node" or "xs": lets a test name where it ran (never to change what it asserts). */
export function testEngine(): "node" | "xs" {
  return (globalThis as { __iotsafeTestEngine?: "node" | "xs" }).__iotsafeTestEngine ?? "node";
}
