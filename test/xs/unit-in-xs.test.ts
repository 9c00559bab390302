// Runs the firmware unit tests inside the real XS engine (xsnap-worker) and reports each one as a
// mocha test, so a failing assertion inside XS fails `npm test`.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { defaultBundlePath, XsRunner } from "../../hosts/sim/xs/runner.js";
import { xsnapWorkerPath } from "../../hosts/sim/xs/xsnap-process.js";
import type { ListedTest, TestOutcome } from "../../hosts/sim/xs/test-harness.js";

const bundle = defaultBundlePath("unit-tests");
const version = execFileSync(xsnapWorkerPath(), ["-v"], { encoding: "utf8" }).trim();
const runner = await XsRunner.start({
  bundlePath: bundle,
  log: (level, tag, message) => {
    if (level === "warn" || level === "error" || process.env.IOTSAFE_LOG === "debug") process.stderr.write(`  [xs ${level}] ${tag}: ${message}\n`);
  },
});
const listed = await runner.call<ListedTest[]>("test:list");
let ran = 0;
let passed = 0;

interface Node {
  suites: Map<string, Node>;
  tests: ListedTest[];
}
const tree: Node = { suites: new Map(), tests: [] };
for (const t of listed) {
  let node = tree;
  for (const title of t.path) {
    let child = node.suites.get(title);
    if (!child) node.suites.set(title, (child = { suites: new Map(), tests: [] }));
    node = child;
  }
  node.tests.push(t);
}

function declare(node: Node): void {
  for (const t of node.tests) {
    if (t.pending) {
      it.skip(t.title);
      continue;
    }
    it(t.title, async function () {
      ran++;
      const outcome = await runner.call<TestOutcome>("test:run", { id: t.id });
      if (outcome.skipped) this.skip();
      if (!outcome.ok) {
        const error = new Error(`inside XS: ${outcome.error!.name}: ${outcome.error!.message}`);
        error.stack = `${error.message}\n${outcome.error!.stack ?? ""}`;
        throw error;
      }
      passed++;
    });
  }
  for (const [title, child] of node.suites) describe(title, () => declare(child));
}

const files = (JSON.parse(readFileSync(bundle.replace(/\.js$/, ".json"), "utf8")) as { files: string[] }).files;

describe(`inside XS (${version}; ${listed.length} tests from ${files.length} files)`, function () {
  after(async function () {
    const finish = await runner.call<{ errors: string[] }>("test:finish");
    const peak = runner.peakHeapCount;
    await runner.close();
    process.stderr.write(`\n  XS: ${passed} of ${ran} firmware unit tests passed inside the XS engine (${version}), peak heap ${peak} slots\n`);
    if (finish.errors.length) throw new Error(`after hooks failed inside XS: ${finish.errors.join("; ")}`);
  });
  declare(tree);
});
