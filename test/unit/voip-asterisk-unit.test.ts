// Asterisk after a reboot: the systemd drop-in cloud-init writes on the PBX orders Asterisk after
// network-online.target and holds its start until the SIP address exists. Checked with systemd's
// own parser (systemd-analyze verify) and by running the start condition in a network namespace
// where the address is missing, then appears.
import { strict as assert } from "assert";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { asteriskSettingsFor, renderAsteriskDropIn } from "../../render/asterisk";
import { demoModel, vmNamed } from "../fixtures/voip";

const settings = () => asteriskSettingsFor(vmNamed(demoModel(), "pbx"));

/** The drop-in as systemd reads it: section → key → values. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = new Map();
      out.set(header[1], section);
      continue;
    }
    const kv = /^(\w+)=(.*)$/.exec(line);
    assert.ok(kv && section, `not a unit-file line: ${line}`);
    section.set(kv[1], [...(section.get(kv[1]) ?? []), kv[2]]);
  }
  return out;
}

describe("PBX: Asterisk starts only once its SIP address is configured", function () {
  this.timeout(60_000);

  it("orders Asterisk after network-online.target and waits for the bind address, retrying on failure", () => {
    const s = settings();
    const unit = parseUnit(renderAsteriskDropIn(s));
    assert.deepEqual(unit.get("Unit")?.get("After"), ["network-online.target"]);
    assert.deepEqual(unit.get("Unit")?.get("Wants"), ["network-online.target"]);
    const pre = unit.get("Service")?.get("ExecStartPre") ?? [];
    assert.equal(pre.length, 1);
    assert.ok(pre[0].includes(`to ${s.bindIp}/32`), pre[0]);
    assert.ok(!pre[0].includes("$"), "systemd would expand a $ in the command");
    assert.deepEqual(unit.get("Service")?.get("Restart"), ["on-failure"]);
  });

  it("systemd's own parser accepts the drop-in next to an asterisk.service", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-unit-"));
    try {
      // A stand-in for the package's unit (verify checks that ExecStart exists).
      fs.writeFileSync(
        path.join(dir, "asterisk.service"),
        "[Unit]\nDescription=Asterisk stand-in\n[Service]\nExecStart=/bin/sleep 1\n",
      );
      fs.mkdirSync(path.join(dir, "asterisk.service.d"));
      fs.writeFileSync(
        path.join(dir, "asterisk.service.d", "10-kubevirt-sriov-network.conf"),
        renderAsteriskDropIn(settings()),
      );
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", "asterisk.service"], {
        cwd: dir,
        env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      // verify exits 0 on unknown keys too: it must not complain at all about our file.
      assert.ok(!r.stderr.includes("10-kubevirt-sriov-network.conf"), r.stderr);
      // And it did read the drop-in: a broken copy is reported.
      fs.appendFileSync(path.join(dir, "asterisk.service.d", "10-kubevirt-sriov-network.conf"), "Bogus=1\n");
      const bad = spawnSync("systemd-analyze", ["verify", "--man=no", "asterisk.service"], {
        cwd: dir,
        env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
        encoding: "utf8",
      });
      assert.match(bad.stderr, /10-kubevirt-sriov-network\.conf:\d+: Unknown key 'Bogus'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the start condition fails while the address is missing and passes once it appears (network namespace)", async () => {
    const s = { ...settings(), bindIp: "198.51.100.10" };
    const cmd = (parseUnit(renderAsteriskDropIn(s, 2)).get("Service")?.get("ExecStartPre") ?? [])[0];
    const ns = `kvs-asterisk-${process.pid}`;
    execFileSync("ip", ["netns", "add", ns]);
    try {
      // The namespace's own loopback stands in for the VF (no dummy/veth module needed).
      execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
      const missing = spawnSync("ip", ["netns", "exec", ns, "bash", "-c", cmd], { encoding: "utf8" });
      assert.equal(missing.status, 124, `timeout's exit code when the address never came: ${missing.stderr}`);
      // The address arrives while the condition waits (as when the VF is configured late).
      const waiting = spawn("ip", ["netns", "exec", ns, "bash", "-c", cmd]);
      const done = new Promise<number | null>((resolve) => waiting.on("exit", (code) => resolve(code)));
      await new Promise((r) => setTimeout(r, 700));
      execFileSync("ip", ["-n", ns, "addr", "add", `${s.bindIp}/24`, "dev", "lo"]);
      assert.equal(await done, 0);
    } finally {
      execFileSync("ip", ["netns", "delete", ns]);
    }
  });
});
