import * as assert from "assert";
import { Secret } from "@pulumi/policy";
import {
  nodePrepHostKeys,
  nodePrepHostKeysProduction,
  nodePrepNoPlaintextCredentials,
} from "../../policies/rules/nodePrep";
import { secretEnvelope as marked } from "../harness/values";
import { runResource, T } from "../harness/policy";

const KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyHostKeyHostKeyHostKeyHostKey";

function command(connection: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    type: T.command,
    name: "node-1-prep",
    props: {
      connection: { host: "node-1.lab", port: 22, user: "root", ...connection },
      create: "bash -s < prep.sh",
      ...extra,
    },
    // What @pulumi/command 1.2.x registers for every Command.
    additionalSecretOutputs: ["connection"],
  };
}

describe("policy node-prep-no-plaintext-credentials", () => {
  it("passes a key in the connection when the SDK marks the connection secret", async () => {
    assert.deepStrictEqual(
      (await runResource(nodePrepNoPlaintextCredentials, command({ privateKey: KEY }))).violations,
      [],
    );
  });

  it("passes a connection whose fields are secret-marked even without additionalSecretOutputs", async () => {
    const c = {
      ...command({ privateKey: marked(KEY), password: new Secret("hunter2hunter2") }),
      additionalSecretOutputs: [],
    };
    assert.deepStrictEqual((await runResource(nodePrepNoPlaintextCredentials, c)).violations, []);
    const whole = { ...command({}), additionalSecretOutputs: [] };
    whole.props.connection = marked({ host: "node-1.lab", privateKey: KEY }) as never;
    assert.deepStrictEqual((await runResource(nodePrepNoPlaintextCredentials, whole)).violations, []);
  });

  it("reports an unmarked private key or password", async () => {
    const c = { ...command({ privateKey: KEY, password: "hunter2hunter2" }), additionalSecretOutputs: [] };
    const out = await runResource(nodePrepNoPlaintextCredentials, c);
    assert.deepStrictEqual(out.violations, [
      "node-1-prep: connection.privateKey is a plaintext input — read it with config.requireSecret() (pulumi config set --secret) or wrap it in pulumi.secret()",
      "node-1-prep: connection.password is a plaintext input — read it with config.requireSecret() (pulumi config set --secret) or wrap it in pulumi.secret()",
    ]);
  });

  it("reports key material in the scripts, the environment or the triggers", async () => {
    const c = command(
      { privateKey: KEY },
      { create: `cat > /root/.ssh/id <<'EOF'\n${KEY}EOF`, environment: { KEY: KEY }, triggers: [KEY] },
    );
    const out = await runResource(nodePrepNoPlaintextCredentials, c);
    const fields = out.violations.map((v) => v.split(" ")[1]);
    assert.deepStrictEqual(fields, ["create", "create", "environment.KEY", "environment.KEY", "triggers"]);
    assert.match(out.violations[0], /create carries PEM key material \("-----BEGIN \.\.\."\) in plaintext/);
    assert.match(out.violations[1], /create contains the value of connection\.privateKey in plaintext/);
  });

  it("reports the password on a command line, also of the jump host", async () => {
    const c = command(
      { password: "s3cret-pw", proxy: { host: "bastion", password: "jump-pw-99" } },
      { delete: "sshpass -p jump-pw-99 ssh bastion true", update: "echo s3cret-pw | sudo -S true" },
    );
    const out = await runResource(nodePrepNoPlaintextCredentials, c);
    assert.deepStrictEqual(out.violations, [
      "node-1-prep: update contains the value of connection.password in plaintext — do not pass credentials on the command line",
      "node-1-prep: delete contains the value of connection.proxy.password in plaintext — do not pass credentials on the command line",
    ]);
  });

  it("is not applicable to other resources", async () => {
    assert.ok(
      (await runResource(nodePrepNoPlaintextCredentials, { type: "command:local:Command", props: {} }))
        .notApplicable !== undefined,
    );
  });
});

describe("policies node-prep-host-keys(-production)", () => {
  const pinned = command({ privateKey: KEY, hostKey: HOST_KEY });
  const unpinned = command({ privateKey: KEY, proxy: { host: "bastion.lab" } });

  it("production: reports a connection and a jump host without hostKey", async () => {
    const out = await runResource(nodePrepHostKeysProduction, unpinned, { environment: "production" });
    assert.deepStrictEqual(out.violations, [
      "node-1-prep: connection to node-1.lab has no hostKey in a production stack — pin it (nodes[].ssh.hostKey / bastion.hostKey, from ssh-keyscan), or SSH accepts any host key",
      "node-1-prep: jump host bastion.lab has no hostKey in a production stack — pin it (nodes[].ssh.hostKey / bastion.hostKey, from ssh-keyscan), or SSH accepts any host key",
    ]);
    assert.deepStrictEqual(
      (await runResource(nodePrepHostKeysProduction, pinned, { environment: "production" })).violations,
      [],
    );
  });

  it("production: reports a host key recorded on first use (the program's record), not pinned", async () => {
    const record = {
      type: "command:local:Command",
      name: "prod-worker-1-hostkey",
      props: {
        create: "node -",
        environment: { KVS_SSH_HOST: "10.0.0.11", KVS_SSH_PORT: "22", KVS_SSH_WHO: "node worker-1" },
      },
    };
    assert.deepStrictEqual(
      (await runResource(nodePrepHostKeysProduction, record, { environment: "production" })).violations,
      [
        "prod-worker-1-hostkey: the host key of node worker-1 (10.0.0.11:22) is recorded on first use, not pinned, in a production stack — pin it (nodes[].ssh.hostKey / bastion.hostKey, from ssh-keyscan), or SSH accepts any host key",
      ],
    );
    assert.strictEqual(
      (await runResource(nodePrepHostKeysProduction, record, { environment: "dev" })).notApplicable,
      "not a production stack",
    );
    const other = { type: "command:local:Command", name: "x", props: { create: "echo hi" } };
    assert.ok(
      (await runResource(nodePrepHostKeysProduction, other, { environment: "production" })).notApplicable !== undefined,
    );
  });

  it("production rule does not apply elsewhere; the advisory one does", async () => {
    assert.strictEqual(
      (await runResource(nodePrepHostKeysProduction, unpinned, { environment: "dev" })).notApplicable,
      "not a production stack",
    );
    assert.strictEqual(
      (await runResource(nodePrepHostKeysProduction, unpinned)).notApplicable,
      "not a production stack",
    );
    assert.strictEqual((await runResource(nodePrepHostKeys, unpinned)).violations.length, 2);
    assert.deepStrictEqual((await runResource(nodePrepHostKeys, pinned)).violations, []);
    assert.ok(
      (await runResource(nodePrepHostKeys, unpinned, { environment: "production" })).notApplicable !== undefined,
    );
  });
});
