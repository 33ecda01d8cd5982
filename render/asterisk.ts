// Asterisk configuration of the PBX VM, rendered section by section: a PJSIP UDP transport
// bound to the SR-IOV address, one endpoint that the load generator reaches by source IP
// (no registration, no password), and a dialplan that answers and echoes the media.
// Pure and deterministic: the same VM gives byte-identical files.
import type { VmModel } from "../config/model";
import { pbxRole } from "../config/schema";
import { voiceNic } from "./guestNics";

/** Dialplan context the load generator's calls land in. */
export const ECHO_CONTEXT = "voip-echo";
/** PJSIP names of the transport and of the load generator's endpoint. */
export const TRANSPORT = "transport-udp";
export const LOADGEN_ENDPOINT = "loadgen";
/** Codecs: G.711 only, the codecs SIPp's built-in scenarios offer and that cost no transcoding. */
export const CODECS = ["ulaw", "alaw"] as const;

export interface IniEntry {
  key: string;
  value: string;
  /** `=>` for dialplan and module lines, `=` otherwise. */
  op?: "=" | "=>";
}

export interface IniSection {
  name: string;
  entries: IniEntry[];
}

export interface AsteriskSettings {
  bindIp: string;
  sipPort: number;
  extension: string;
  answer: "echo" | "prompt-echo";
  /** CIDR the load generator calls from. */
  allowFrom: string;
}

const HEADER = "; Rendered by kubevirt-sriov (cloud-init writes it at first boot): edit the stack, not this file.";

export function asteriskSettingsFor(vm: VmModel): AsteriskSettings {
  const role = vm.config.pbx ?? pbxRole.parse({});
  const nic = voiceNic(vm);
  return {
    bindIp: nic.ip,
    sipPort: role.sipPort,
    extension: role.extension,
    answer: role.answer,
    allowFrom: role.allowFrom ?? nic.subnet,
  };
}

const kv = (key: string, value: string): IniEntry => ({ key, value });

// ---- pjsip.conf -------------------------------------------------------------------------

export function pjsipTransport(s: AsteriskSettings): IniSection {
  return {
    name: TRANSPORT,
    entries: [kv("type", "transport"), kv("protocol", "udp"), kv("bind", `${s.bindIp}:${s.sipPort}`)],
  };
}

export function pjsipLoadgenEndpoint(): IniSection {
  return {
    name: LOADGEN_ENDPOINT,
    entries: [
      kv("type", "endpoint"),
      kv("transport", TRANSPORT),
      kv("context", ECHO_CONTEXT),
      kv("disallow", "all"),
      kv("allow", CODECS.join(",")),
      // Media stays on the PBX: Echo() needs it, and re-INVITEs would skew the load test.
      kv("direct_media", "no"),
      // Answer RTP to where it comes from, whatever the SDP says.
      kv("rtp_symmetric", "yes"),
    ],
  };
}

/** Matches the load generator by source address: SIPp neither registers nor authenticates. */
export function pjsipIdentify(s: AsteriskSettings): IniSection {
  return {
    name: `${LOADGEN_ENDPOINT}-identify`,
    entries: [kv("type", "identify"), kv("endpoint", LOADGEN_ENDPOINT), kv("match", s.allowFrom)],
  };
}

export function pjsipSections(s: AsteriskSettings): IniSection[] {
  return [pjsipTransport(s), pjsipLoadgenEndpoint(), pjsipIdentify(s)];
}

// ---- extensions.conf --------------------------------------------------------------------

export function dialplanGeneral(): IniSection {
  // writeprotect: `dialplan save` from the CLI must not overwrite the rendered file.
  return { name: "general", entries: [kv("static", "yes"), kv("writeprotect", "yes")] };
}

export function echoContext(s: AsteriskSettings): IniSection {
  const steps = ["Answer()", ...(s.answer === "prompt-echo" ? ["Playback(demo-congrats)"] : []), "Echo()", "Hangup()"];
  return {
    name: ECHO_CONTEXT,
    entries: steps.map((app, i) => ({
      key: i === 0 ? "exten" : "same",
      op: "=>",
      value: i === 0 ? `${s.extension},1,${app}` : `n,${app}`,
    })),
  };
}

export function extensionsSections(s: AsteriskSettings): IniSection[] {
  return [dialplanGeneral(), echoContext(s)];
}

// ---- modules.conf -----------------------------------------------------------------------

/**
 * Everything autoloads except chan_sip: where it still ships (Asterisk 20, Ubuntu 24.04) it
 * binds 0.0.0.0:5060, and PJSIP could then not bind the SR-IOV address on the same port.
 */
export function modulesSections(): IniSection[] {
  return [{ name: "modules", entries: [kv("autoload", "yes"), { key: "noload", op: "=>", value: "chan_sip.so" }] }];
}

// ---- files ------------------------------------------------------------------------------

export function renderIni(sections: readonly IniSection[]): string {
  const blocks = sections.map((s) =>
    [`[${s.name}]`, ...s.entries.map((e) => `${e.key} ${e.op ?? "="} ${e.value}`)].join("\n"),
  );
  return `${HEADER}\n\n${blocks.join("\n\n")}\n`;
}

export interface AsteriskFiles {
  "/etc/asterisk/pjsip.conf": string;
  "/etc/asterisk/extensions.conf": string;
  "/etc/asterisk/modules.conf": string;
}

export function renderAsteriskFiles(s: AsteriskSettings): AsteriskFiles {
  return {
    "/etc/asterisk/pjsip.conf": renderIni(pjsipSections(s)),
    "/etc/asterisk/extensions.conf": renderIni(extensionsSections(s)),
    "/etc/asterisk/modules.conf": renderIni(modulesSections()),
  };
}

// ---- systemd drop-in ----------------------------------------------------------------------

export const ASTERISK_DROP_IN = "/etc/systemd/system/asterisk.service.d/10-kubevirt-sriov-network.conf";
/** How long Asterisk's start waits for its SIP address before it fails (and is retried). */
export const BIND_WAIT_SECONDS = 90;

/**
 * Asterisk after the network, and only once its SIP address exists. PJSIP binds the SR-IOV
 * address at start; started before the guest configured that interface (a reboot, a slow
 * VF), the transport fails, Asterisk keeps running without SIP and nothing retries. After=
 * network-online.target orders it behind systemd-networkd-wait-online (netplan on Ubuntu), and
 * the start waits for the exact address too, since "online" does not promise every address on
 * every image. No `$` in the command: systemd would expand it.
 */
export function renderAsteriskDropIn(s: AsteriskSettings, waitSeconds: number = BIND_WAIT_SECONDS): string {
  return [
    "# Rendered by kubevirt-sriov (cloud-init writes it at first boot): edit the stack, not this file.",
    `# PJSIP binds ${s.bindIp}:${s.sipPort}: start Asterisk only once that address is configured.`,
    "[Unit]",
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    `ExecStartPre=/usr/bin/timeout ${waitSeconds} /bin/sh -c 'until ip -o addr show to ${s.bindIp}/32 | grep -q .; do sleep 0.5; done'`,
    "Restart=on-failure",
    "RestartSec=5",
    "",
  ].join("\n");
}
