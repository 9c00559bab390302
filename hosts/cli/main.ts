#!/usr/bin/env node
// `iotsafe <command>`: one file per command under hosts/cli/commands/, registered here.
import "./commands/index.js";
import { commands } from "./registry.js";

// A closed reader (`iotsafe probe | head`) is not an error of ours.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

const [name, ...args] = process.argv.slice(2);
const command = name ? commands[name] : undefined;
if (!command) {
  const list = Object.entries(commands)
    .map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`)
    .join("\n");
  process.stderr.write(`usage: iotsafe <command> [options]\n\ncommands:\n${list}\n`);
  process.exit(name ? 2 : 0);
}
try {
  const code = await command.run(args);
  if (typeof code === "number") process.exitCode = code;
} catch (error) {
  process.stderr.write(`iotsafe ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
