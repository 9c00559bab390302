/** The AT engine's public surface: `import { AtEngine, AtCmeError, ... } from "../at/index.js"`. */
export * from "./engine.js";
export * from "./errors.js";
