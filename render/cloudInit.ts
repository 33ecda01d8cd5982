// cloud-init documents of a VoIP VM: network-config v2 (every NIC matched by MAC) and
// user-data per role (PBX: Asterisk; load generator: SIPp script and unit; custom: as given).
import { dump } from "js-yaml";
import type { PlatformModel, VmModel } from "../config/model";
import { ASTERISK_DROP_IN, asteriskSettingsFor, renderAsteriskDropIn, renderAsteriskFiles } from "./asterisk";
import { planGuestNics } from "./guestNics";
import { findTargetPbx, renderLoadtestScript, renderWaitScript, sippRunFor } from "./sipp";

// ---- network-config v2 ------------------------------------------------------------------

export interface EthernetV2 {
  match: { macaddress: string };
  "set-name": string;
  dhcp4: boolean;
  addresses?: string[];
  routes?: { to: string; via: string; metric: number }[];
  mtu?: number;
}

export interface NetworkConfigV2 {
  version: 2;
  ethernets: Record<string, EthernetV2>;
}

/**
 * Metric of the default route through an SR-IOV gateway: above the management NIC's DHCP
 * route (100 with netplan and networkd), so package installs keep using the pod network.
 * cloud-init 22.4's ENI and networkd renderers (Debian 12 images) drop route metrics.
 */
export const SRIOV_DEFAULT_ROUTE_METRIC = 200;

export function networkConfigFor(vm: VmModel): NetworkConfigV2 {
  const nics = planGuestNics(vm);
  // The management NIC is matched by the MAC this program gives KubeVirt's masquerade
  // interface (see guestNics.ts): the guest must have it, since network-config replaces
  // the image's "DHCP on the first NIC" fallback, and virtctl ssh reaches the guest there.
  const ethernets: Record<string, EthernetV2> = {
    [nics.management.guestName]: {
      match: { macaddress: nics.management.mac },
      "set-name": nics.management.guestName,
      dhcp4: true,
    },
  };
  for (const nic of nics.sriov) {
    const eth: EthernetV2 = {
      match: { macaddress: nic.mac },
      "set-name": nic.name,
      dhcp4: false,
      addresses: [nic.address],
    };
    if (nic.mtu !== undefined) eth.mtu = nic.mtu;
    // "0.0.0.0/0", not "default": cloud-init 22.4 rejects "default" in v2 routes.
    if (nic.gateway !== undefined)
      eth.routes = [{ to: "0.0.0.0/0", via: nic.gateway, metric: SRIOV_DEFAULT_ROUTE_METRIC }];
    ethernets[nic.name] = eth;
  }
  return { version: 2, ethernets };
}

export function renderNetworkData(vm: VmModel): string {
  return toYaml(networkConfigFor(vm));
}

// ---- user-data --------------------------------------------------------------------------

export interface WriteFile {
  path: string;
  content: string;
  owner: string;
  permissions: string;
  /** Write after packages are installed (so a package's own config file does not win). */
  defer?: boolean;
}

export interface CloudUser {
  name: string;
  shell: string;
  sudo: string;
  lock_passwd: boolean;
  ssh_authorized_keys?: string[];
}

export interface CloudConfig {
  users: CloudUser[];
  ssh_pwauth: boolean;
  package_update: boolean;
  packages: string[];
  write_files: WriteFile[];
  runcmd: string[][];
}

export const LOADTEST_SCRIPT = "/usr/local/bin/voip-loadtest";
export const WAIT_SCRIPT = "/usr/local/bin/voip-wait-pbx";
export const LOADTEST_UNIT = "voip-loadtest.service";

function guestUser(vm: VmModel): CloudUser {
  const user: CloudUser = {
    name: vm.config.guestUser,
    shell: "/bin/bash",
    sudo: "ALL=(ALL) NOPASSWD:ALL",
    lock_passwd: true,
  };
  if (vm.config.sshAuthorizedKeys.length > 0) user.ssh_authorized_keys = [...vm.config.sshAuthorizedKeys];
  return user;
}

function file(path: string, content: string, permissions = "0644", defer = false): WriteFile {
  const f: WriteFile = { path, content, owner: "root:root", permissions };
  if (defer) f.defer = true;
  return f;
}

export function pbxCloudConfig(vm: VmModel): CloudConfig {
  const settings = asteriskSettingsFor(vm);
  const files = renderAsteriskFiles(settings);
  return {
    users: [guestUser(vm)],
    ssh_pwauth: false,
    package_update: true,
    // Asterisk is in Ubuntu 24.04 universe; the prompt needs the English core sounds.
    packages: settings.answer === "prompt-echo" ? ["asterisk", "asterisk-core-sounds-en-gsm"] : ["asterisk"],
    // Deferred: written after apt installed the package's own sample configs.
    write_files: [
      ...Object.entries(files).map(([path, content]) => file(path, content, "0644", true)),
      file(ASTERISK_DROP_IN, renderAsteriskDropIn(settings), "0644", true),
    ],
    runcmd: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "asterisk"],
      ["systemctl", "restart", "asterisk"],
    ],
  };
}

export function renderLoadtestUnit(pbxRef: string): string {
  return [
    "[Unit]",
    `Description=SIPp load test against the PBX ${pbxRef} (kubevirt-sriov)`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStartPre=${WAIT_SCRIPT}`,
    `ExecStart=${LOADTEST_SCRIPT}`,
    "# SIPp redraws its screen on stdout; the statistics file is the record.",
    "StandardOutput=null",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

export function loadgenCloudConfig(vm: VmModel, model: PlatformModel): CloudConfig {
  const role = vm.config.loadgen;
  if (role === undefined) throw new Error(`VM ${vm.ref} is not a load generator`);
  const run = sippRunFor(vm, model);
  const pbxRef = findTargetPbx(vm, model).ref;
  const runcmd: string[][] = [["systemctl", "daemon-reload"]];
  if (role.runAtBoot) {
    // Enabling during boot does not start it in this boot: start it too, without blocking cloud-final.
    runcmd.push(["systemctl", "enable", LOADTEST_UNIT], ["systemctl", "start", "--no-block", LOADTEST_UNIT]);
  }
  return {
    users: [guestUser(vm)],
    ssh_pwauth: false,
    package_update: true,
    packages: ["sip-tester"],
    write_files: [
      file(LOADTEST_SCRIPT, renderLoadtestScript(run, pbxRef), "0755"),
      file(WAIT_SCRIPT, renderWaitScript(run, pbxRef), "0755"),
      file(`/etc/systemd/system/${LOADTEST_UNIT}`, renderLoadtestUnit(pbxRef)),
    ],
    runcmd,
  };
}

export function renderUserData(vm: VmModel, model: PlatformModel): string {
  switch (vm.config.role) {
    case "pbx":
      return `#cloud-config\n${toYaml(pbxCloudConfig(vm))}`;
    case "loadgen":
      return `#cloud-config\n${toYaml(loadgenCloudConfig(vm, model))}`;
    case "custom": {
      const custom = vm.config.custom;
      if (custom === undefined) throw new Error(`custom VM ${vm.ref} has no custom.userData`);
      return custom.userData;
    }
  }
}

/** js-yaml quotes strings a YAML 1.1 reader (cloud-init's PyYAML) would take as numbers or booleans. */
function toYaml(doc: object): string {
  return dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false });
}
