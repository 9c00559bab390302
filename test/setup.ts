// Mocha root setup on Node: registers the Node platform for tests that need a real host.
import { nodePlatform } from "../hosts/node/platform.js";

const g = globalThis as { __iotsafeHostPlatform?: unknown; __iotsafeTestEngine?: string };
g.__iotsafeHostPlatform = nodePlatform({ logLevel: (process.env.IOTSAFE_LOG as "debug" | undefined) ?? "warn" });
g.__iotsafeTestEngine = "node";
