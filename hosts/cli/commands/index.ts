// One import per command module; each registers itself in ../registry.ts. Keep sorted.
import "./cloud.js";
import "./connect.js";
import "./csr.js";
import "./demo.js";
import "./probe.js";
import "./profile.js";
import "./provision.js";
import "./sim.js";
export {};
