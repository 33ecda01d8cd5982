// Every shipped stack file renders: the whole program runs under mocks for each file in
// stacks/, as written (no allowOvercommit added), and fails on any error, and on any warning
// the file does not announce with a comment line `# expect-warning: <text the warning contains>`.
// The only substitution: the KubeVirt operator manifest is the lab's pinned stand-in, since a
// test cannot download the release (the SHA-256 check itself still runs).
import { strict as assert } from "assert";
import { runProgram, TEST_PRIVATE_KEY, withLabManifest } from "../harness/program";
import { readStack, shippedStacks } from "../harness/stacks";

const STACKS = shippedStacks().map((stack) => `Pulumi.${stack}.yaml`);

/** The `# expect-warning:` lines of a stack file. */
export function expectedWarnings(text: string): string[] {
  return [...text.matchAll(/^\s*#\s*expect-warning:\s*(.+?)\s*$/gm)].map((m) => m[1]);
}

describe("every shipped stack renders under mocks, with only the warnings it documents", function () {
  this.timeout(180_000);

  it("finds the shipped stacks", () => {
    assert.ok(STACKS.length >= 3, `stack files: ${STACKS.join(", ")}`);
  });

  for (const file of STACKS) {
    const stack = file.replace(/^Pulumi\.(.+)\.yaml$/, "$1");
    it(`stacks/${file}`, () => {
      const { text, platform } = readStack(stack);
      assert.ok(platform, `${file} has no kubevirt-sriov:platform key`);
      withLabManifest(platform);
      const secrets: Record<string, { value: string; secret: boolean }> = {};
      for (const key of secretKeysOf(platform)) secrets[key] = { value: TEST_PRIVATE_KEY, secret: true };
      const r = runProgram({ stack, platform, config: secrets });
      assert.equal(r.error, undefined, `${file}: ${r.error?.message}`);
      const expected = expectedWarnings(text);
      const unexpected = r.warnings.filter((w) => !expected.some((e) => w.includes(e)));
      assert.deepEqual(
        unexpected,
        [],
        `${file} logs warnings it does not document (add "# expect-warning: <text>" or fix the stack)`,
      );
      const stale = expected.filter((e) => !r.warnings.some((w) => w.includes(e)));
      assert.deepEqual(stale, [], `${file} documents warnings the program no longer logs`);
      assert.ok(
        r.resources.some((x) => x.type === "kubevirt-sriov:index:SriovPlatform"),
        `${file} built no platform`,
      );
    });
  }
});

/** The secret config keys a stack names (SSH keys and passwords), so each can be set. */
function secretKeysOf(platform: Record<string, any>): string[] {
  const keys = new Set<string>([platform.ssh?.privateKeySecret ?? "sshPrivateKey"]);
  if (platform.ssh?.passwordSecret) keys.add(platform.ssh.passwordSecret);
  for (const n of [...(platform.nodes ?? []), ...Object.values(platform.profiles ?? {})] as Record<string, any>[]) {
    for (const end of [n.ssh, n.bastion]) {
      if (end?.privateKeySecret) keys.add(end.privateKeySecret);
      if (end?.passwordSecret) keys.add(end.passwordSecret);
    }
  }
  return [...keys];
}
