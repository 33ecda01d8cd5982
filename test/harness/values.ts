// Reading values out of Pulumi under mocks: the SDK hands mocks a secret as an envelope
// object rather than the value, and tests need an Output's value without an engine.
import * as pulumi from "@pulumi/pulumi";

/** The key and value that mark an object as the SDK's secret envelope, taken from the SDK itself. */
export const SECRET_SIG: string = pulumi.runtime.specialSigKey;
export const SECRET_SIG_VALUE: string = pulumi.runtime.specialSecretSig;

/** Whether a value the mocks received is a secret envelope. */
export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_SIG_VALUE;
}

/** The value inside a secret envelope; anything else as it is. */

export function unsecret(v: any): any {
  return isSecretValue(v) ? v.value : v;
}

/** The wire form of a secret, as mocks and raw engine payloads show it. */
export function secretEnvelope(value: unknown): Record<string, unknown> {
  return { [SECRET_SIG]: SECRET_SIG_VALUE, value };
}

/**
 * An Output's value. `promise()` is the SDK's internal accessor; unlike `apply` it also
 * rejects when the output failed, so error paths can be asserted.
 */
export function outputValue<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}
