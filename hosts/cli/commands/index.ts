// One import per command module; each registers itself in ../registry.ts. Keep sorted.
import "./csr.js";
import "./probe.js";
import "./sim.js";
export {};
