/**
 * A small mocha-compatible harness that runs inside XS: it defines describe/it and the hooks as
 * globals before the firmware's unit-test files load, then lets the Node side list the tests and
 * run them one by one (test/xs/unit-in-xs.test.ts turns each into a mocha test).
 */
import { registerEntry, xsPlatform } from "./xs-side.js";

type Hook = (this: unknown) => unknown;
type TestFn = (this: unknown) => unknown;

interface Suite {
  title: string;
  parent: Suite | undefined;
  before: Hook[];
  after: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
  beforeRan: boolean;
  beforeError: unknown;
}

interface TestCase {
  id: number;
  title: string;
  suite: Suite;
  fn: TestFn | undefined;
  only: boolean;
}

export interface ListedTest {
  id: number;
  path: string[];
  title: string;
  pending: boolean;
}

export interface TestOutcome {
  ok: boolean;
  skipped?: boolean;
  error?: { name: string; message: string; stack?: string };
  durationMs: number;
}

class SkipSignal extends Error {
  override name = "SkipSignal";
}

const root: Suite = { title: "", parent: undefined, before: [], after: [], beforeEach: [], afterEach: [], beforeRan: false, beforeError: undefined };
let current = root;
const tests: TestCase[] = [];

/** The `this` of tests and hooks: mocha's timeout/slow/skip, as no-ops or skips. */
const context = {
  timeout(): unknown {
    return context;
  },
  slow(): unknown {
    return context;
  },
  retries(): unknown {
    return context;
  },
  skip(): never {
    throw new SkipSignal("skipped");
  },
};

function describe(title: string, body: (this: unknown) => void): void {
  const suite: Suite = { title, parent: current, before: [], after: [], beforeEach: [], afterEach: [], beforeRan: false, beforeError: undefined };
  const saved = current;
  current = suite;
  try {
    body.call(context);
  } finally {
    current = saved;
  }
}
describe.skip = (_title: string, _body: () => void) => {};
describe.only = describe;

function it(title: string, fn?: TestFn): void {
  tests.push({ id: tests.length, title, suite: current, fn, only: false });
}
it.skip = (title: string, _fn?: TestFn) => {
  tests.push({ id: tests.length, title, suite: current, fn: undefined, only: false });
};
it.only = it;

const globals = globalThis as Record<string, unknown>;
globals.describe = describe;
globals.context = describe;
globals.it = it;
globals.specify = it;
globals.before = (fn: Hook) => current.before.push(fn);
globals.after = (fn: Hook) => current.after.push(fn);
globals.beforeEach = (fn: Hook) => current.beforeEach.push(fn);
globals.afterEach = (fn: Hook) => current.afterEach.push(fn);
globals.__iotsafeHostPlatform = xsPlatform;
globals.__iotsafeTestEngine = "xs";

function chain(suite: Suite): Suite[] {
  const out: Suite[] = [];
  for (let s: Suite | undefined = suite; s; s = s.parent) out.unshift(s);
  return out;
}

async function runHook(hook: Hook): Promise<void> {
  // Mocha's callback style (hook(done)) is not used in this project; promise style is.
  await hook.call(context);
}

function describeError(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { name: "Error", message: String(error) };
}

registerEntry("test:list", (): ListedTest[] =>
  tests.map((t) => ({ id: t.id, path: chain(t.suite).slice(1).map((s) => s.title), title: t.title, pending: !t.fn })),
);

registerEntry("test:run", async (args): Promise<TestOutcome> => {
  const test = tests[(args as { id: number }).id];
  if (!test) throw new Error(`no test with id ${JSON.stringify(args)}`);
  const started = xsPlatform.now();
  const suites = chain(test.suite);
  try {
    for (const suite of suites) {
      if (!suite.beforeRan) {
        suite.beforeRan = true;
        try {
          for (const hook of suite.before) await runHook(hook);
        } catch (error) {
          suite.beforeError = error;
        }
      }
      if (suite.beforeError) throw suite.beforeError;
    }
    for (const suite of suites) for (const hook of suite.beforeEach) await runHook(hook);
    try {
      await test.fn!.call(context);
    } finally {
      for (const suite of suites.slice().reverse()) for (const hook of suite.afterEach) await runHook(hook);
    }
    return { ok: true, durationMs: xsPlatform.now() - started };
  } catch (error) {
    if (error instanceof SkipSignal) return { ok: true, skipped: true, durationMs: xsPlatform.now() - started };
    return { ok: false, error: describeError(error), durationMs: xsPlatform.now() - started };
  }
});

registerEntry("test:finish", async () => {
  const suites = new Set<Suite>();
  for (const t of tests) for (const s of chain(t.suite)) if (s.beforeRan) suites.add(s);
  const errors: string[] = [];
  for (const suite of [...suites].reverse()) {
    for (const hook of suite.after) {
      try {
        await runHook(hook);
      } catch (error) {
        errors.push(`${suite.title}: ${describeError(error).message}`);
      }
    }
  }
  return { errors };
});
