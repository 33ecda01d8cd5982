// Trust on first use of SSH host keys: node/hostkey.js against a real sshd on loopback (first
// contact records the key, the same key passes, a replaced key is refused with both
// fingerprints and the cure), and the program's wiring under mocks.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { pinHostKeyCommand } from "../../config/validate";
import { multiNodeConfig } from "../fixtures/stacks";
import { ROOT } from "../harness/stacks";
import { runProgram, SSH_KEY_CONFIG, withLabManifest } from "../harness/program";
import { unsecret as unwrap } from "../harness/values";
import { TestSshd } from "../sim/sshd";

const SCRIPT = fs.readFileSync(path.join(ROOT, "node", "hostkey.js"), "utf8");
const PIN = "pulumi config set --path 'platform.nodes[0].ssh.hostKey' <KEY>";

function scan(
  port: number,
  recorded?: string,
  scanned?: string,
): { status: number | null; stdout: string; stderr: string } {
  const env: Record<string, string> = {
    ...process.env,
    KVS_SSH_HOST: "127.0.0.1",
    KVS_SSH_PORT: String(port),
    KVS_SSH_WHO: "node worker-1",
    KVS_SSH_PIN: PIN,
    KVS_SSH_TIMEOUT: "5",
  } as Record<string, string>;
  if (recorded !== undefined) env.PULUMI_COMMAND_STDOUT = recorded;
  if (scanned !== undefined) env.KVS_SSH_SCANNED = scanned;
  const r = spawnSync("node", ["-"], { input: SCRIPT, env, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

function fingerprintOf(key: string): string {
  const file = path.join(fs.mkdtempSync("/tmp/kvs-fp-"), "k.pub");
  fs.writeFileSync(file, `${key}\n`);
  return spawnSync("ssh-keygen", ["-lf", file], { encoding: "utf8" }).stdout.split(" ")[1];
}

describe("trust on first use: node/hostkey.js against a real sshd", function () {
  this.timeout(60_000);
  let sshd: TestSshd;
  before(async () => {
    sshd = await TestSshd.start();
  });
  after(async () => {
    await sshd?.stop();
  });

  it("records the host's key at the first contact", () => {
    const r = scan(sshd.port);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, sshd.hostKey.split(" ").slice(0, 2).join(" "));
  });

  it("passes, printing the recorded key, while the host presents it", () => {
    const recorded = scan(sshd.port).stdout;
    const r = scan(sshd.port, recorded);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, recorded);
  });

  it("refuses a changed key with both fingerprints, that nothing was sent, and the pin command with the new key", () => {
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsWJp1kW2m9yU3s0e3Jq3b8B0tqvV1Zb1k5mQ0nXyZ1";
    const now = sshd.hostKey.split(" ").slice(0, 2).join(" ");
    const r = scan(sshd.port, other);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.ok(
      r.stderr.includes(`node worker-1 (127.0.0.1:${sshd.port}): the SSH host key changed since it was first recorded`),
      r.stderr,
    );
    assert.ok(
      r.stderr.includes(`recorded ssh-ed25519 ${fingerprintOf(other)}, now ssh-ed25519 ${fingerprintOf(now)}`),
      r.stderr,
    );
    assert.ok(r.stderr.includes("Nothing was sent to the host"), r.stderr);
    assert.ok(r.stderr.includes(`pin it: pulumi config set --path 'platform.nodes[0].ssh.hostKey' '${now}'`), r.stderr);
  });

  it("says so, naming the endpoint, when nothing answers", () => {
    const r = scan(1);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^node worker-1 \(127\.0\.0\.1:1\): cannot read its SSH host key .*cure: check that sshd is reachable/,
    );
  });

  it("behind a jump host: takes the jump host's ssh-keyscan output instead of scanning, and checks it the same way", () => {
    const fromJump = spawnSync("ssh-keyscan", ["-T", "5", "-p", String(sshd.port), "127.0.0.1"], {
      encoding: "utf8",
    }).stdout;
    const key = sshd.hostKey.split(" ").slice(0, 2).join(" ");
    const first = scan(1, undefined, fromJump); // port 1: nothing is scanned from here
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, key);
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsWJp1kW2m9yU3s0e3Jq3b8B0tqvV1Zb1k5mQ0nXyZ1";
    const changed = scan(1, other, fromJump);
    assert.equal(changed.status, 1);
    assert.match(changed.stderr, /the SSH host key changed since it was first recorded/);
    const empty = scan(1, undefined, "");
    assert.match(empty.stderr, /cannot read its SSH host key \(the jump host's ssh-keyscan printed no key\)/);
  });

  it("the pin command printed by validation works as printed (its scan yields the host's key line)", () => {
    const cmd = pinHostKeyCommand("nodes[0].ssh.hostKey", `ssh-keyscan -t ed25519 -p ${sshd.port} 127.0.0.1`);
    const inner = /"\$\((.*)\)"$/.exec(cmd)?.[1];
    assert.ok(inner, cmd);
    const r = spawnSync("bash", ["-c", inner], { encoding: "utf8" });
    assert.equal(r.stdout.trim(), sshd.hostKey.split(" ").slice(0, 2).join(" "));
  });
});

describe("trust on first use: the program's wiring (mocks)", function () {
  this.timeout(120_000);

  it("records unpinned keys only, and node preparation pins what was recorded", () => {
    const cfg = multiNodeConfig() as Record<string, any>;
    delete cfg.nodes[0].ssh.hostKey; // worker-a: direct, unpinned → recorded
    // worker-b: pinned node key behind an unpinned jump host → the jump host is recorded
    const r = runProgram({ stack: "tofu", platform: withLabManifest(cfg), config: SSH_KEY_CONFIG });
    assert.equal(r.error, undefined, r.error?.message);
    const records = r.resources.filter((x) => x.type === "command:local:Command" && /-hostkey-/.test(x.name));
    assert.deepEqual(records.map((x) => x.name).sort(), ["tofu-bastion-hostkey-worker-b", "tofu-hostkey-worker-a"]);
    const a = records.find((x) => x.name === "tofu-hostkey-worker-a")!;
    assert.deepEqual(
      [a.inputs.environment.KVS_SSH_HOST, a.inputs.environment.KVS_SSH_PORT, a.inputs.environment.KVS_SSH_WHO],
      ["10.0.0.11", "22", "node worker-a"],
    );
    assert.equal(a.inputs.addPreviousOutputInEnv, true);
    assert.match(a.inputs.environment.KVS_SSH_RUN_WHEN, /^[0-9a-f]{16}$/);
    const conn = (node: string) =>
      unwrap(
        r.resources.find((x) => x.type === "command:remote:Command" && x.name.startsWith(`tofu-${node}`))!.inputs
          .connection,
      );
    assert.match(unwrap(conn("worker-a").hostKey), /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI/);
    assert.equal(unwrap(conn("worker-b").hostKey), cfg.nodes[1].ssh.hostKey);
    assert.match(unwrap(unwrap(conn("worker-b").proxy).hostKey), /^ssh-ed25519 /);
  });

  it("a node behind a jump host: scanned on the jump host (over its checked connection), then recorded", () => {
    const cfg = multiNodeConfig() as Record<string, any>;
    delete cfg.nodes[1].ssh.hostKey;
    const r = runProgram({ stack: "tofu", platform: withLabManifest(cfg), config: SSH_KEY_CONFIG });
    assert.equal(r.error, undefined, r.error?.message);
    const jump = r.resources.find(
      (x) => x.type === "command:local:Command" && x.name === "tofu-bastion-hostkey-worker-b",
    )!;
    const scanOnJump = r.resources.find(
      (x) => x.type === "command:remote:Command" && x.name === "tofu-hostkey-scan-worker-b",
    )!;
    const record = r.resources.find((x) => x.type === "command:local:Command" && x.name === "tofu-hostkey-worker-b")!;
    assert.ok(jump && scanOnJump && record);
    const conn = unwrap(scanOnJump.inputs.connection);
    assert.deepEqual([conn.host, conn.user], ["bastion.example.internal", "jump"]);
    assert.match(unwrap(conn.hostKey), /^ssh-ed25519 /, "the jump host's recorded key is checked");
    assert.match(scanOnJump.inputs.create, /^ssh-keyscan -T 15 -p 2222 10\.0\.0\.12 # kubevirt-sriov [0-9a-f]{16}$/);
    assert.match(record.inputs.environment.KVS_SSH_SCANNED, /^\[10\.0\.0\.12\]:2222 ssh-ed25519 /);
    const prep = r.resources.find((x) => x.type === "command:remote:Command" && x.name === "tofu-worker-b-sriov")!;
    assert.match(unwrap(unwrap(prep.inputs.connection).hostKey), /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF0xWjk/);
  });
});
