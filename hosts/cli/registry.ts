export interface CliCommand {
  summary: string;
  /** Runs the command; a returned number is the exit code. Long-running commands resolve on exit. */
  run(args: string[]): Promise<number | void>;
}

/** CLI commands by name; each module under commands/ registers itself with {@link registerCommand}. */
export const commands: Record<string, CliCommand> = {};

export function registerCommand(name: string, command: CliCommand): void {
  if (commands[name]) throw new Error(`CLI command ${name} registered twice`);
  commands[name] = command;
}
