/**
 * A minimal describe/it for running the firmware's portable test suites inside the Moddable
 * simulator (the crypto provider conformance suite on the SDK's native crypto). Importing this
 * module installs `describe` and `it` as globals; run() executes the registered tests in order and
 * reports each one through `print`.
 */
type TestFunction = () => unknown;

interface RegisteredTest {
  path: string;
  fn: TestFunction;
}

const tests: RegisteredTest[] = [];
const titles: string[] = [];

function describe(title: string, body: () => void): void {
  titles.push(title);
  try {
    body();
  } finally {
    titles.pop();
  }
}

function it(title: string, fn: TestFunction): void {
  tests.push({ path: [...titles, title].join(" > "), fn });
}

Object.assign(globalThis, { describe, it });

export interface RunSummary {
  passed: number;
  failed: number;
  failures: string[];
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export async function run(print: (line: string) => void): Promise<RunSummary> {
  const summary: RunSummary = { passed: 0, failed: 0, failures: [] };
  for (const test of tests) {
    try {
      await test.fn();
      summary.passed++;
      print(`ok - ${test.path}`);
    } catch (error) {
      summary.failed++;
      summary.failures.push(`${test.path}: ${describeError(error)}`);
      print(`not ok - ${test.path}: ${describeError(error)}`);
    }
  }
  return summary;
}
