// One import per command module; each registers itself in ../registry.ts. Keep sorted.
import "./sim.js";
export {};
