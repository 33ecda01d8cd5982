// The Pulumi SDK (@pulumi/pulumi 3.248, runtime/debuggable.js) attaches a stack trace to every
// promise it creates and formats it at once (`new Error().stack`). It reads those traces only to
// report leaked promises, which it does only when PULUMI_DEBUG_PROMISE_LEAKS is set. Pulumi's
// runner installs source-map-support, so each one is formatted frame by frame in JavaScript, and
// the string is kept on the promise until the program ends.
//
// At fleet scale that was a third of the language host's work: 1,636 resources under the mocks
// took 8.8 s of CPU and 596 MB peak RSS, and 6.0 s and 405 MB without it (BENCHMARKS.md,
// "Language host"). So a stack whose top frame is the SDK's `debuggablePromise` gets one fixed
// string. Every other stack is formatted as before: errors, and the SDK's own capture of each
// resource's source position (which still maps to the TypeScript line).
//
// Written here, not taken from a package: it is a small wrapper around V8's documented
// `Error.prepareStackTrace` hook, tied to one SDK function.
import * as path from "path";

/** What the SDK's promise traces read while skipped (the env var that brings them back is named). */
export const UNFORMATTED_PROMISE_STACK =
  "Error: promise stack not formatted (set PULUMI_DEBUG_PROMISE_LEAKS=1 to keep promise stacks)";

/** The SDK function whose traces are skipped, and the file it lives in. */
const SDK_FUNCTION = "debuggablePromise";
const SDK_FILE = path.join("@pulumi", "pulumi", "runtime", "debuggable.js");

type PrepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => unknown;

/** Marks our wrapper, so installing twice wraps once. */
const WRAPPED = Symbol.for("kubevirt-sriov.promiseStacks");

/** V8's own format, for when nothing else had hooked `Error.prepareStackTrace`. */
function v8Format(error: Error, frames: NodeJS.CallSite[]): string {
  return [String(error), ...frames.map((f) => `    at ${f.toString()}`)].join("\n");
}

/** True when this trace is the one the SDK's `debuggablePromise` takes of itself. */
export function isSdkPromiseTrace(frames: readonly NodeJS.CallSite[]): boolean {
  const top = frames[0];
  return top?.getFunctionName() === SDK_FUNCTION && (top.getFileName() ?? "").endsWith(SDK_FILE);
}

/**
 * Stops formatting the SDK's promise traces for this process (see the top of this file). Does
 * nothing when PULUMI_DEBUG_PROMISE_LEAKS is set, since the SDK then prints them. Returns whether
 * the wrapper is in place.
 */
export function skipPromiseStacks(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.PULUMI_DEBUG_PROMISE_LEAKS) return false;
  const current = Error.prepareStackTrace as (PrepareStackTrace & { [WRAPPED]?: true }) | undefined;
  if (current?.[WRAPPED]) return true;
  const inner: PrepareStackTrace = current ?? v8Format;
  const wrapper = Object.assign(
    (error: Error, frames: NodeJS.CallSite[]): unknown =>
      isSdkPromiseTrace(frames) ? UNFORMATTED_PROMISE_STACK : inner(error, frames),
    { [WRAPPED]: true as const },
  );
  Error.prepareStackTrace = wrapper;
  return true;
}
