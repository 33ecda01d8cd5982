// Trust on first use for one SSH endpoint, run by a command.local.Command as `node -` (stdin).
// The first run records the host key that ssh-keyscan reads; its stdout is that key, kept in the
// stack's state and pinned in node preparation's connection. Every later run (the command runs
// again exactly when node preparation is about to connect: its environment carries the node's
// state hash) gets the recorded key back as PULUMI_COMMAND_STDOUT and refuses a host that no
// longer presents it, with both fingerprints and the cure.
//
// Environment: KVS_SSH_HOST, KVS_SSH_PORT, KVS_SSH_WHO (what the endpoint is, for messages),
// KVS_SSH_PIN (the shell command that pins a key for this endpoint), KVS_SSH_TIMEOUT (seconds),
// KVS_SSH_SCANNED (ssh-keyscan's output taken elsewhere: for a node behind a jump host, the jump
// host scans it, over a connection whose own key is checked; then nothing is scanned here).
// ssh-keyscan (OpenSSH) reads the keys: writing an SSH client here would be a worse copy.
"use strict";
const { spawnSync } = require("child_process");
const { createHash } = require("crypto");

const PREFERENCE = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "ssh-rsa",
];

/** "SHA256:…" as ssh-keygen -lf prints it. */
function fingerprint(key) {
  const blob = Buffer.from(key.split(" ")[1] || "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** `type base64` lines from ssh-keyscan's output (which prefixes each with the host). */
function parseKeyscan(text) {
  const keys = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const [, type, blob] = line.trim().split(/\s+/);
    if (type && blob) keys.push(`${type} ${blob}`);
  }
  return keys.sort((a, b) => rank(a) - rank(b));
}

function rank(key) {
  const i = PREFERENCE.indexOf(key.split(" ")[0]);
  return i < 0 ? PREFERENCE.length : i;
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function main() {
  const host = process.env.KVS_SSH_HOST;
  const port = process.env.KVS_SSH_PORT || "22";
  const who = process.env.KVS_SSH_WHO || host;
  const pin = process.env.KVS_SSH_PIN || "pin the key in the stack (ssh.hostKey)";
  if (!host) fail("hostkey.js: KVS_SSH_HOST is not set");
  const recorded = (process.env.PULUMI_COMMAND_STDOUT || "").trim();
  const scanned = process.env.KVS_SSH_SCANNED;
  const r =
    scanned !== undefined
      ? { stdout: scanned, stderr: "the jump host's ssh-keyscan printed no key" }
      : spawnSync("ssh-keyscan", ["-T", process.env.KVS_SSH_TIMEOUT || "15", "-p", port, host], { encoding: "utf8" });
  if (r.error)
    fail(
      `${who}: cannot read its SSH host key: ${r.error.message}; cure: install OpenSSH's client (ssh-keyscan) where pulumi runs`,
    );
  const keys = parseKeyscan(r.stdout || "");
  if (keys.length === 0) {
    const why =
      (r.stderr || "")
        .trim()
        .split("\n")
        .filter((l) => !l.startsWith("#"))
        .join("; ") || "no answer";
    fail(
      `${who} (${host}:${port}): cannot read its SSH host key (${why}); cure: check that sshd is reachable from here, or pin the key in the stack`,
    );
  }
  if (recorded === "") {
    process.stdout.write(`${keys[0]}\n`);
    return;
  }
  if (keys.includes(recorded)) {
    process.stdout.write(`${recorded}\n`);
    return;
  }
  const now = keys.find((k) => k.split(" ")[0] === recorded.split(" ")[0]) || keys[0];
  fail(
    `${who} (${host}:${port}): the SSH host key changed since it was first recorded: recorded ${recorded.split(" ")[0]} ${fingerprint(recorded)}, ` +
      `now ${now.split(" ")[0]} ${fingerprint(now)}. Nothing was sent to the host. ` +
      `Cure: if the host was reinstalled or its keys rotated, check the new fingerprint out of band (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on its console), then pin it: ${pin.replace("<KEY>", `'${now}'`)}; ` +
      "otherwise someone may be intercepting the connection: stop and investigate",
  );
}

main();
