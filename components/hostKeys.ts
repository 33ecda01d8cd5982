// Trust on first use for SSH endpoints whose host key the stack does not pin: one
// command.local.Command per endpoint runs node/hostkey.js, which records the key at the first
// contact and refuses a changed key afterwards. Node preparation then pins the recorded key.
// Not a component, yet here: it registers those commands as children of the platform.
import * as command from "@pulumi/command";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { keyedChildName, previousChildName, renamedFrom } from "../config/names";
import { CONFIG_KEY } from "../config/schema";
import { NodeState, nodeScript, renderStateLines } from "../render/nodeState";
import type { NodeConnection } from "./nodePrep";

const HOSTKEY_SCRIPT = fs.readFileSync(path.join(__dirname, "..", "node", "hostkey.js"), "utf8");

/** Environment variable that names the endpoint (the test mocks answer these commands themselves). */
export const HOSTKEY_HOST_ENV = "KVS_SSH_HOST";

export interface HostKeyEndpoint {
  host: string;
  port: number;
  /** What the endpoint is, for messages: `node worker-1`, `the jump host of node worker-2`. */
  who: string;
  /** The shell command that pins a key for it, with `<KEY>` where the key goes. */
  pinCommand: string;
  /**
   * Changes exactly when node preparation will connect (the node's state and script): the
   * check runs again then, and only then, so a no-op `up` opens no connection.
   */
  runWhen: string;
}

/**
 * The endpoint's host key as recorded at first contact (a secret-free Output: host keys are
 * public). A new host or port is a new endpoint: the record starts over (replacement).
 */
export function recordedHostKey(
  name: string,
  e: HostKeyEndpoint,
  opts: pulumi.CustomResourceOptions,
  scanned?: pulumi.Output<string>,
): pulumi.Output<string> {
  const scan = new command.local.Command(
    name,
    {
      create: "node -",
      stdin: HOSTKEY_SCRIPT,
      environment: {
        [HOSTKEY_HOST_ENV]: e.host,
        KVS_SSH_PORT: String(e.port),
        KVS_SSH_WHO: e.who,
        KVS_SSH_PIN: e.pinCommand,
        KVS_SSH_RUN_WHEN: e.runWhen,
        ...(scanned !== undefined ? { KVS_SSH_SCANNED: scanned } : {}),
      },
      addPreviousOutputInEnv: true,
      triggers: [e.host, e.port],
      logging: "stderr",
    },
    opts,
  );
  return scan.stdout.apply((s) => s.trim());
}

let scriptHash: string | undefined;

/** When node preparation will connect: its state lines and the script it ships. */
export function connectWhen(state: NodeState): string {
  scriptHash ??= createHash("sha256").update(nodeScript()).digest("hex");
  return createHash("sha256").update(scriptHash).update(renderStateLines(state)).digest("hex").slice(0, 16);
}

/** `pulumi config set` that pins a key at a config path (the key goes where `<KEY>` is). */
function pinCommand(configPath: string): string {
  return `pulumi config set --path '${CONFIG_KEY}.${configPath}' <KEY>`;
}

/**
 * ssh-keyscan of a node run ON its jump host, over the jump host's checked connection: the
 * only vantage point that reaches the node. Runs again exactly when node preparation will
 * connect (the command text carries the same hash).
 */
function scanThroughJumpHost(
  name: string,
  node: { host: string; port: number },
  jump: NodeConnection["proxy"] & object,
  runWhen: string,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const scan = new command.remote.Command(
    name,
    {
      connection: {
        host: jump.host,
        port: jump.port,
        user: jump.user,
        privateKey: secretOrNot(jump.privateKey),
        password: secretOrNot(jump.password),
        hostKey: jump.hostKey,
      },
      create: `ssh-keyscan -T 15 -p ${node.port} ${node.host} # kubevirt-sriov ${runWhen}`,
      logging: "stderr",
    },
    opts,
  );
  return scan.stdout;
}

function secretOrNot(v: pulumi.Input<string> | undefined): pulumi.Output<string> | undefined {
  return v === undefined ? undefined : pulumi.secret(v);
}

/**
 * The node's connection with every host key either pinned by the stack or recorded at first
 * contact: the jump host's by scanning it from here, a node behind a jump host by scanning it
 * from the jump host (whose key is checked first).
 */
export function withHostKeys(
  /** The platform's name: the records are its children, named after the node. */
  platformName: string,
  /** Where the stack file pins the node's key and its jump host's (`nodes[0].ssh.hostKey`). */
  pinPaths: { hostKey: string; bastionHostKey: string },
  node: string,
  connection: NodeConnection,
  state: NodeState,
  parent: pulumi.Resource,
): NodeConnection {
  const out: NodeConnection = { ...connection };
  const runWhen = connectWhen(state);
  // Named `<prep>-<role>` before the node moved to the end of the name (config/names.ts): the
  // records keep their identity, and with it the keys they hold, through aliases.
  const prepName = keyedChildName.nodePrep(platformName, node);
  const opts = (now: string, role: string) => ({
    parent,
    aliases: renamedFrom(previousChildName(prepName, role), now),
  });
  if (out.proxy !== undefined && out.proxy.hostKey === undefined) {
    const p = out.proxy;
    const jumpKeyName = keyedChildName.bastionHostKey(platformName, node);
    out.proxy = {
      ...p,
      hostKey: recordedHostKey(
        jumpKeyName,
        {
          host: p.host,
          port: p.port,
          who: `the jump host of node ${node}`,
          pinCommand: pinCommand(pinPaths.bastionHostKey),
          runWhen,
        },
        opts(jumpKeyName, "bastion-hostkey"),
      ),
    };
  }
  if (out.hostKey === undefined) {
    const scanName = keyedChildName.hostKeyScan(platformName, node);
    const scanned =
      out.proxy === undefined
        ? undefined
        : scanThroughJumpHost(scanName, out, out.proxy, runWhen, opts(scanName, "hostkey-scan"));
    const keyName = keyedChildName.hostKey(platformName, node);
    out.hostKey = recordedHostKey(
      keyName,
      {
        host: out.host,
        port: out.port,
        who: `node ${node}`,
        pinCommand: pinCommand(pinPaths.hostKey),
        runWhen,
      },
      opts(keyName, "hostkey"),
      scanned,
    );
  }
  return out;
}
