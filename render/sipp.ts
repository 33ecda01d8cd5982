// The load generator's SIPp run: one structured description (`SippRun`), derived from the
// model, and one function that turns it into SIPp's argv. The guest script and the tests use
// the same argv, so what the tests run on 127.0.0.1 is what the VM runs against the PBX.
import { posix } from "path";
import type { PlatformModel, VmModel } from "../config/model";
import { pbxRole } from "../config/schema";
import { voiceNic } from "./guestNics";

/** Debian's `sip-tester` installs SIPp as /usr/bin/sipp. */
export const SIPP_BINARY = "/usr/bin/sipp";
/** The load generator's own SIP port (nothing else listens in that guest). */
export const LOADGEN_SIP_PORT = 5060;
export const LOADTEST_LOG_DIR = "/var/log/voip-loadtest";
export const STATS_FILE = `${LOADTEST_LOG_DIR}/stats.csv`;
export const ERRORS_FILE = `${LOADTEST_LOG_DIR}/errors.log`;
/** Seconds between rows of the statistics file (a last row is always written at the end). */
const STATS_PERIOD_S = 10;

export interface SippEndpoint {
  ip: string;
  port: number;
}

export interface SippRun {
  /** The PBX's SIP transport. */
  remote: SippEndpoint;
  /** The load generator's own SR-IOV address and SIP port. */
  local: SippEndpoint;
  extension: string;
  /** Calls per second. */
  rate: number;
  /** Most calls at once. */
  concurrency: number;
  /** Calls in the run. */
  calls: number;
  holdMs: number;
  statsFile: string;
  errorsFile: string;
}

/** PBX VMs by name, built once per model: a scan per load generator is quadratic at fleet scale. */
const pbxIndex = new WeakMap<PlatformModel, Map<string, VmModel[]>>();

function pbxNamed(model: PlatformModel, name: string): VmModel[] {
  let index = pbxIndex.get(model);
  if (!index) {
    index = new Map();
    for (const v of model.vms) {
      if (v.config.role !== "pbx") continue;
      const list = index.get(v.config.name) ?? [];
      list.push(v);
      index.set(v.config.name, list);
    }
    pbxIndex.set(model, index);
  }
  return index.get(name) ?? [];
}

/** The PBX VM a load generator calls: its namesake in the same namespace, else the only one. */
export function findTargetPbx(vm: VmModel, model: PlatformModel): VmModel {
  const target = vm.config.loadgen?.target;
  if (target === undefined) throw new Error(`VM ${vm.ref} is not a load generator`);
  const candidates = pbxNamed(model, target);
  const pbx = candidates.find((v) => v.config.namespace === vm.config.namespace) ?? candidates[0];
  if (pbx === undefined) throw new Error(`load generator ${vm.ref}: no PBX VM named "${target}"`);
  return pbx;
}

export function sippRunFor(vm: VmModel, model: PlatformModel): SippRun {
  const role = vm.config.loadgen;
  if (role === undefined) throw new Error(`VM ${vm.ref} is not a load generator`);
  const pbx = findTargetPbx(vm, model);
  const pbxCfg = pbx.config.pbx ?? pbxRole.parse({});
  return {
    remote: { ip: voiceNic(pbx).ip, port: pbxCfg.sipPort },
    local: { ip: voiceNic(vm).ip, port: LOADGEN_SIP_PORT },
    extension: role.extension,
    rate: role.rate,
    concurrency: role.concurrency,
    calls: role.calls,
    holdMs: role.holdMs,
    statsFile: STATS_FILE,
    errorsFile: ERRORS_FILE,
  };
}

/**
 * A bound on the run's wall time, so a PBX that never answers ends the run with an error
 * instead of leaving it hanging: twice the time the calls need at the rate the concurrency
 * allows, plus a minute.
 */
export function sippTimeoutSeconds(run: SippRun): number {
  const holdS = run.holdMs / 1000;
  const rate = holdS > 0 ? Math.min(run.rate, run.concurrency / holdS) : run.rate;
  return Math.ceil(2 * (run.calls / rate + holdS)) + 60;
}

/** SIPp's argv (without the program) for the built-in UAC scenario. */
export function renderSippArgs(run: SippRun): string[] {
  return [
    "-sn",
    "uac",
    "-s",
    run.extension,
    "-r",
    String(run.rate),
    "-l",
    String(run.concurrency),
    "-m",
    String(run.calls),
    "-d",
    String(run.holdMs),
    "-i",
    run.local.ip,
    "-p",
    String(run.local.port),
    `${run.remote.ip}:${run.remote.port}`,
    "-trace_stat",
    "-stf",
    run.statsFile,
    "-fd",
    String(STATS_PERIOD_S),
    "-trace_err",
    "-error_file",
    run.errorsFile,
    "-timeout",
    `${sippTimeoutSeconds(run)}s`,
    "-timeout_error",
    "-nostdin",
  ];
}

/** Quotes one word for bash; words of safe characters stay bare so the script reads well. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `mkdir -p` of the directories the run writes to (derived from its files, so tests can move them). */
export function renderLogDirs(run: SippRun): string {
  const dirs = [...new Set([posix.dirname(run.statsFile), posix.dirname(run.errorsFile)])];
  return `mkdir -p ${dirs.map(shellQuote).join(" ")}`;
}

/** The guest's /usr/local/bin/voip-loadtest: one run, SIPp's exit code is the script's. */
export function renderLoadtestScript(run: SippRun, pbxRef: string): string {
  const argv = [SIPP_BINARY, ...renderSippArgs(run)].map(shellQuote).join(" ");
  return [
    "#!/usr/bin/env bash",
    `# Rendered by kubevirt-sriov: one SIPp load test against the PBX ${pbxRef}.`,
    "# Exit code is SIPp's: 0 every call succeeded, 1 some failed, other values: SIPp error.",
    "set -euo pipefail",
    renderLogDirs(run),
    "# Statistics describe the last run only.",
    `rm -f ${shellQuote(run.statsFile)} ${shellQuote(run.errorsFile)}`,
    `exec ${argv}`,
    "",
  ].join("\n");
}

/** The probe of the wait script: one call, no hold, its own statistics beside the run's. */
export function probeRun(run: SippRun): SippRun {
  const dir = posix.dirname(run.statsFile);
  return {
    ...run,
    calls: 1,
    rate: 1,
    concurrency: 1,
    holdMs: 0,
    statsFile: `${dir}/probe-stats.csv`,
    errorsFile: `${dir}/probe-errors.log`,
  };
}

/** How long a boot-time load test waits for the PBX to answer a first call. */
const WAIT_ATTEMPTS = 30;
const WAIT_PAUSE_S = 10;

/** The boot-time run first waits for one successful call: the PBX installs Asterisk at its own first boot. */
export function renderWaitScript(run: SippRun, pbxRef: string): string {
  const probe = probeRun(run);
  const argv = [SIPP_BINARY, ...renderSippArgs(probe)].map(shellQuote).join(" ");
  return [
    "#!/usr/bin/env bash",
    `# Rendered by kubevirt-sriov: waits until the PBX ${pbxRef} answers one call.`,
    "set -uo pipefail",
    renderLogDirs(probe),
    `for attempt in $(seq 1 ${WAIT_ATTEMPTS}); do`,
    `  if ${argv} >/dev/null 2>&1; then`,
    "    exit 0",
    "  fi",
    `  echo "PBX ${pbxRef} does not answer yet (attempt $attempt of ${WAIT_ATTEMPTS})" >&2`,
    `  sleep ${WAIT_PAUSE_S}`,
    "done",
    "exit 1",
    "",
  ].join("\n");
}
