// The SDK's promise traces are not formatted (components/promiseStacks.ts); every other stack is,
// source-mapped to the TypeScript line as before.
import { strict as assert } from "assert";
import { skipPromiseStacks, UNFORMATTED_PROMISE_STACK } from "../../components/promiseStacks";

// The SDK function the wrapper recognises, called the way the SDK calls it. It is internal (its
// .d.ts exports nothing), so it is loaded untyped; a rename in a new SDK fails the first test.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
  debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T>;
};

/** The trace the SDK keeps on a promise it is given (it returns a chained one). */
function sdkPromiseTrace(): string | undefined {
  const p = Promise.resolve(1);
  void debuggable.debuggablePromise(p, "test");
  return (p as Promise<number> & { _debugStackTrace?: string })._debugStackTrace;
}

/** A trace taken here, in this file's own function. */
function thrownHere(): Error {
  return new Error("boom");
}

describe("promise stacks: the SDK's promise traces are not formatted, every other stack is", () => {
  let saved: typeof Error.prepareStackTrace;
  beforeEach(() => (saved = Error.prepareStackTrace));
  afterEach(() => (Error.prepareStackTrace = saved));

  it("the pinned SDK formats a trace for every promise; with the wrapper it keeps one fixed string", () => {
    const before = sdkPromiseTrace();
    assert.match(
      before ?? "",
      /at (Object\.)?debuggablePromise .*debuggable\.[jt]s/,
      "the SDK no longer traces its promises here",
    );
    assert.equal(skipPromiseStacks({}), true);
    assert.equal(sdkPromiseTrace(), UNFORMATTED_PROMISE_STACK);
  });

  it("errors keep their message and frames, mapped to the TypeScript source", () => {
    skipPromiseStacks({});
    const stack = thrownHere().stack ?? "";
    assert.match(stack, /^Error: boom\n/);
    assert.match(stack, /at thrownHere .*promiseStacks\.test\.ts:\d+:\d+/);
  });

  it("a resource's source position (a trace with no depth limit) still reaches the caller's file", () => {
    skipPromiseStacks({});
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = Number.POSITIVE_INFINITY;
    try {
      assert.match(new Error().stack ?? "", /promiseStacks\.test\.ts:\d+:\d+/);
    } finally {
      Error.stackTraceLimit = limit;
    }
  });

  it("with nothing hooked before it, stacks come out in V8's own format", () => {
    delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
    skipPromiseStacks({});
    const stack = thrownHere().stack ?? "";
    assert.match(stack, /^Error: boom\n {4}at thrownHere \(.*promiseStacks\.test\.ts:\d+:\d+\)/);
    assert.equal(sdkPromiseTrace(), UNFORMATTED_PROMISE_STACK);
  });

  it("wraps once, however often it is called", () => {
    skipPromiseStacks({});
    const first = Error.prepareStackTrace;
    skipPromiseStacks({});
    assert.equal(Error.prepareStackTrace, first);
  });

  it("PULUMI_DEBUG_PROMISE_LEAKS keeps the traces: the SDK prints them then", () => {
    const before = Error.prepareStackTrace;
    assert.equal(skipPromiseStacks({ PULUMI_DEBUG_PROMISE_LEAKS: "1" }), false);
    assert.equal(Error.prepareStackTrace, before);
    assert.match(sdkPromiseTrace() ?? "", /at (Object\.)?debuggablePromise/);
  });
});
