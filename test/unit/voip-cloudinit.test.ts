import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import { load } from "js-yaml";
import * as path from "path";
import { z } from "zod";
import type { PlatformModel } from "../../config/model";
import { LOADTEST_SCRIPT, LOADTEST_UNIT, renderNetworkData, renderUserData, WAIT_SCRIPT } from "../../render/cloudInit";
import { managementMac } from "../../render/guestNics";
import { demoModel, RawConfig, requireTool, tempDir, vmNamed } from "../fixtures/voip";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsWJp1kW2m9yU3s0e3Jq3b8B0tqvV1Zb1k5mQ0nXyZ1 ops@example";
const CUSTOM_USER_DATA = "#cloud-config\npackages: [kamailio]\nruncmd:\n  - [systemctl, enable, --now, kamailio]\n";

/** Every role and option that changes the documents, in one stack. */
function richModel(): PlatformModel {
  return demoModel((raw: RawConfig) => {
    raw.networks.push({ name: "sig", namespace: "voip", pool: "sriov_net_B", subnet: "10.56.218.0/24", mtu: 9000 });
    raw.vms[0].sshAuthorizedKeys = [KEY];
    raw.vms[0].interfaces.push({
      network: "voip/sig",
      address: "10.56.218.10/24",
      gateway: "10.56.218.1",
      mac: "12:34:56:12:34:56",
    });
    raw.vms[1].loadgen.runAtBoot = true;
    raw.vms.push(
      {
        name: "pbx-prompt",
        role: "pbx",
        pbx: { extension: "7000", answer: "prompt-echo", allowFrom: "10.56.217.0/25" },
        interfaces: [{ network: "sriov-net", address: "10.56.217.11/24" }],
      },
      {
        name: "sipp-manual",
        role: "loadgen",
        guestUser: "tester",
        loadgen: { target: "pbx-prompt", extension: "7000", rate: 2.5 },
        interfaces: [{ network: "sriov-net", address: "10.56.217.21/24" }],
      },
      {
        name: "kamailio",
        role: "custom",
        kind: "VirtualMachineInstance",
        custom: { userData: CUSTOM_USER_DATA },
        interfaces: [{ network: "sriov-net", address: "10.56.217.30/24", gateway: "10.56.217.1" }],
      },
    );
  });
}

let work: string;
function writeTemp(name: string, text: string): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, text);
  return file;
}

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/**
 * Top-level keys of cloud-config that some cloud-init module reads (cloud-init's own schema;
 * Debian's python, not a venv's).
 */
function knownCloudConfigKeys(): Set<string> {
  const dir = run("/usr/bin/python3", [
    "-c",
    "import os, cloudinit.config.schemas as s; print(os.path.dirname(s.__file__))",
  ]).out.trim();
  const schema = JSON.parse(fs.readFileSync(path.join(dir, "schema-cloud-config-v1.json"), "utf8")) as {
    $defs: Record<string, { properties?: Record<string, unknown> }>;
  };
  const keys = new Set<string>();
  for (const def of Object.values(schema.$defs)) for (const k of Object.keys(def.properties ?? {})) keys.add(k);
  return keys;
}

interface WriteFileDoc {
  path: string;
  content: string;
  permissions: string;
  owner: string;
  defer?: boolean;
}
interface UserDataDoc {
  users: Array<{ name: string; sudo: string; ssh_authorized_keys?: string[]; lock_passwd: boolean }>;
  packages: string[];
  write_files: WriteFileDoc[];
  runcmd: string[][];
}
const parseUserData = (text: string) => load(text) as UserDataDoc;
const fileIn = (doc: UserDataDoc, p: string) => {
  const f = doc.write_files.find((w) => w.path === p);
  assert.ok(f, `no ${p} in write_files`);
  return f;
};

// ---- a structural schema of what this program emits as network-config v2 ---------------

const mac = z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/);
const ethernetV2 = z
  .object({
    match: z.object({ macaddress: mac }).strict(),
    "set-name": z.string().regex(/^[a-z][a-z0-9]{0,14}$/),
    dhcp4: z.boolean(),
    addresses: z.array(cidr).min(1).optional(),
    mtu: z.number().int().min(68).max(9702).optional(),
    routes: z
      .array(
        z
          .object({ to: cidr, via: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/), metric: z.number().int().min(0) })
          .strict(),
      )
      .optional(),
  })
  .strict();
const networkConfigV2 = z.object({ version: z.literal(2), ethernets: z.record(z.string(), ethernetV2) }).strict();

describe("cloud-init documents of the VoIP VMs", () => {
  let model: PlatformModel;
  let known: Set<string>;

  before(() => {
    requireTool("cloud-init", ["--version"]);
    requireTool("shellcheck", ["--version"]);
    work = tempDir("voip-cloudinit-");
    model = richModel();
    known = knownCloudConfigKeys();
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  describe("user-data", () => {
    it("every VM's user-data passes `cloud-init schema`", () => {
      for (const vm of model.vms) {
        const file = writeTemp(`${vm.config.name}.user-data`, renderUserData(vm, model));
        const r = run("cloud-init", ["schema", "--config-file", file]);
        assert.equal(r.code, 0, `${vm.ref}: cloud-init schema failed:\n${r.out}`);
        assert.match(r.out, /Valid cloud-config/);
      }
    });

    it("uses only top-level keys that a cloud-init module reads (schema ignores unknown ones)", () => {
      for (const vm of model.vms.filter((v) => v.config.role !== "custom")) {
        const doc = load(renderUserData(vm, model)) as Record<string, unknown>;
        const unknown = Object.keys(doc).filter((k) => !known.has(k));
        assert.deepEqual(unknown, [], vm.ref);
      }
    });

    it("the schema check does fail on a broken document", () => {
      const file = writeTemp("broken.user-data", "#cloud-config\nwrite_files:\n  - path: /x\n    permisions: '0644'\n");
      const r = run("cloud-init", ["schema", "--config-file", file]);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /permisions/);
    });

    it("creates the guest user with sudo and the configured SSH keys, passwords locked", () => {
      const pbx = parseUserData(renderUserData(vmNamed(model, "pbx"), model));
      assert.deepEqual(pbx.users, [
        {
          name: "voip",
          shell: "/bin/bash",
          sudo: "ALL=(ALL) NOPASSWD:ALL",
          lock_passwd: true,
          ssh_authorized_keys: [KEY],
        },
      ]);
      const manual = parseUserData(renderUserData(vmNamed(model, "sipp-manual"), model));
      assert.equal(manual.users[0].name, "tester");
      assert.equal(manual.users[0].ssh_authorized_keys, undefined);
    });

    it("PBX: installs asterisk, writes its three files and the network drop-in after the package, then restarts it", () => {
      const doc = parseUserData(renderUserData(vmNamed(model, "pbx"), model));
      assert.deepEqual(doc.packages, ["asterisk"]);
      assert.deepEqual(
        doc.write_files.map((f) => [f.path, f.defer, f.permissions]),
        [
          ["/etc/asterisk/pjsip.conf", true, "0644"],
          ["/etc/asterisk/extensions.conf", true, "0644"],
          ["/etc/asterisk/modules.conf", true, "0644"],
          ["/etc/systemd/system/asterisk.service.d/10-kubevirt-sriov-network.conf", true, "0644"],
        ],
      );
      assert.match(fileIn(doc, "/etc/asterisk/pjsip.conf").content, /^bind = 10\.56\.217\.10:5060$/m);
      assert.match(
        fileIn(doc, "/etc/systemd/system/asterisk.service.d/10-kubevirt-sriov-network.conf").content,
        /ip -o addr show to 10\.56\.217\.10\/32/,
      );
      // daemon-reload first: the drop-in must be in effect for the restart and every later boot.
      assert.deepEqual(doc.runcmd, [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "asterisk"],
        ["systemctl", "restart", "asterisk"],
      ]);
    });

    it("load generator: sip-tester, the load-test script, the wait script and the unit; enabled only with runAtBoot", () => {
      const atBoot = parseUserData(renderUserData(vmNamed(model, "sipp"), model));
      assert.deepEqual(atBoot.packages, ["sip-tester"]);
      assert.deepEqual(
        atBoot.write_files.map((f) => [f.path, f.permissions]),
        [
          [LOADTEST_SCRIPT, "0755"],
          [WAIT_SCRIPT, "0755"],
          [`/etc/systemd/system/${LOADTEST_UNIT}`, "0644"],
        ],
      );
      assert.deepEqual(atBoot.runcmd, [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", LOADTEST_UNIT],
        ["systemctl", "start", "--no-block", LOADTEST_UNIT],
      ]);
      const manual = parseUserData(renderUserData(vmNamed(model, "sipp-manual"), model));
      assert.deepEqual(manual.runcmd, [["systemctl", "daemon-reload"]]);

      const unit = fileIn(atBoot, `/etc/systemd/system/${LOADTEST_UNIT}`).content;
      assert.match(unit, /^Type=oneshot$/m);
      assert.match(unit, new RegExp(`^ExecStartPre=${WAIT_SCRIPT}$`, "m"));
      assert.match(unit, new RegExp(`^ExecStart=${LOADTEST_SCRIPT}$`, "m"));
      assert.match(unit, /^After=network-online\.target$/m);
      assert.match(unit, /^WantedBy=multi-user\.target$/m);
    });

    it("the rendered shell scripts are shellcheck-clean", () => {
      for (const name of ["sipp", "sipp-manual"]) {
        const doc = parseUserData(renderUserData(vmNamed(model, name), model));
        for (const p of [LOADTEST_SCRIPT, WAIT_SCRIPT]) {
          const file = writeTemp(`${name}-${path.basename(p)}`, fileIn(doc, p).content);
          const r = run("shellcheck", ["--shell=bash", file]);
          assert.equal(r.code, 0, `${name} ${p}:\n${r.out}`);
        }
      }
    });

    it("custom: user-data passes through byte for byte", () => {
      assert.equal(renderUserData(vmNamed(model, "kamailio"), model), CUSTOM_USER_DATA);
    });
  });

  describe("network-config", () => {
    it("every VM's network-config is v2 with ethernets matched by MAC (structural schema)", () => {
      for (const vm of model.vms) {
        const parsed = networkConfigV2.safeParse(load(renderNetworkData(vm)));
        assert.ok(parsed.success, `${vm.ref}: ${parsed.success ? "" : JSON.stringify(parsed.error.issues)}`);
      }
    });

    it("the structural schema refuses what v2 does not know (so it can fail)", () => {
      const bad = {
        version: 2,
        ethernets: {
          eth0: { match: { macaddress: "02:00:00:00:00:01" }, "set-name": "eth0", dhcp4: true, gateway: "10.0.0.1" },
        },
      };
      assert.equal(networkConfigV2.safeParse(bad).success, false);
    });

    it("management NIC on DHCP, SR-IOV NICs static with MTU and a low-priority default route via their gateway", () => {
      const pbx = vmNamed(model, "pbx");
      assert.deepEqual(load(renderNetworkData(pbx)), {
        version: 2,
        ethernets: {
          mgmt0: { match: { macaddress: managementMac(pbx) }, "set-name": "mgmt0", dhcp4: true },
          sriov0: {
            match: { macaddress: pbx.interfaces[0].mac },
            "set-name": "sriov0",
            dhcp4: false,
            addresses: ["10.56.217.10/24"],
          },
          sriov1: {
            match: { macaddress: "12:34:56:12:34:56" },
            "set-name": "sriov1",
            dhcp4: false,
            addresses: ["10.56.218.10/24"],
            mtu: 9000,
            routes: [{ to: "0.0.0.0/0", via: "10.56.218.1", metric: 200 }],
          },
        },
      });
    });

    // cloud-init's own parser and renderers: ENI and networkd as on Debian 12 images
    // (cloud-init 22.4), netplan as on Ubuntu 24.04.
    const renderers: Array<[string, string, string]> = [
      ["debian", "eni", "etc/network/interfaces.d/50-cloud-init"],
      ["debian", "networkd", "etc/systemd/network"],
      ["ubuntu", "netplan", "etc/netplan/50-cloud-init.yaml"],
    ];
    for (const [distro, kind, where] of renderers) {
      it(`cloud-init converts every network-config to ${kind} (${distro}) with each MAC and address`, () => {
        for (const vm of model.vms) {
          const file = writeTemp(`${vm.config.name}.network-config`, renderNetworkData(vm));
          const out = path.join(work, `${vm.config.name}-${kind}`);
          const r = run("cloud-init", [
            "devel",
            "net-convert",
            "-p",
            file,
            "-k",
            "yaml",
            "-D",
            distro,
            "-O",
            kind,
            "-d",
            out,
          ]);
          assert.equal(r.code, 0, `${vm.ref} → ${kind}:\n${r.out}`);
          const rendered = readTree(path.join(out, where)).toLowerCase();
          for (const m of [managementMac(vm), ...vm.interfaces.map((i) => i.mac)]) {
            // ENI renames by MAC in a udev rule, beside interfaces.d.
            const haystack = kind === "eni" ? readTree(out).toLowerCase() : rendered;
            assert.ok(haystack.includes(m), `${vm.ref} → ${kind}: MAC ${m} missing`);
          }
          for (const i of vm.interfaces)
            assert.ok(rendered.includes(i.config.address), `${vm.ref} → ${kind}: ${i.config.address} missing`);
        }
      });
    }

    it("cloud-init's converter does fail on a broken network-config", () => {
      const file = writeTemp(
        "broken.network-config",
        "version: 2\nethernets:\n  x:\n    match: {macaddress: 1}\n    routes: [{to: default, via: 10.0.0.1}]\n",
      );
      const r = run("cloud-init", [
        "devel",
        "net-convert",
        "-p",
        file,
        "-k",
        "yaml",
        "-D",
        "debian",
        "-O",
        "networkd",
        "-d",
        path.join(work, "broken"),
      ]);
      assert.notEqual(r.code, 0);
    });
  });
});

function readTree(p: string): string {
  if (!fs.existsSync(p)) return "";
  if (fs.statSync(p).isFile()) return fs.readFileSync(p, "utf8");
  return fs
    .readdirSync(p)
    .sort()
    .map((f) => readTree(path.join(p, f)))
    .join("\n");
}
