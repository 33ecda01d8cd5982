// SIP calls between two test pods with SIPp (Debian's sip-tester, in the lab's net-tools image):
// a UAS in one pod, the program's own load-generator command line (render/sipp.ts) in the other.
import type { Guest } from "../guest/guests";
import { renderSippArgs, shellQuote, SippRun } from "../../render/sipp";
import { podExec } from "./pods";

export interface SipPod {
  guest: Guest;
  namespace: string;
  name: string;
  ip: string;
}

export interface SipResult {
  /** Calls SIPp counted as successful and as failed (its statistics file, last line). */
  successful: number;
  failed: number;
  /** Calls per second over the whole run (SIPp's own cumulative CallRate). */
  callRate: number;
  /** Wall time of the UAC run, seconds. */
  seconds: number;
  /** SIPp's exit status (0: every call succeeded). */
  exitCode: number;
}

/** Parses SIPp's `-trace_stat` CSV (header line, then one line per period): the last line's totals. */
export function parseSippStats(csv: string): { successful: number; failed: number; callRate: number } {
  const lines = csv
    .trim()
    .split("\n")
    .filter((l) => l.includes(";"));
  if (lines.length < 2) throw new Error(`SIPp wrote no statistics:\n${csv.slice(0, 500)}`);
  const header = lines[0].split(";");
  const last = lines[lines.length - 1].split(";");
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`SIPp statistics have no column ${name}`);
    return Number(last[i]);
  };
  return { successful: col("SuccessfulCall(C)"), failed: col("FailedCall(C)"), callRate: col("CallRate(C)") };
}

/**
 * Starts a SIPp UAS in `uas` (its built-in scenario, in the background), runs `run` (the program's
 * load-generator parameters) from `uac` against it, stops the UAS; returns SIPp's counts.
 */
export async function sipCalls(uas: SipPod, uac: SipPod, run: SippRun): Promise<SipResult> {
  const stats = `/tmp/sipp-${Date.now()}.csv`;
  const r: SippRun = {
    ...run,
    remote: { ip: uas.ip, port: run.remote.port },
    local: { ip: uac.ip, port: run.local.port },
    statsFile: stats,
    errorsFile: `${stats}.errors`,
  };
  await podExec(
    uas.guest,
    uas.namespace,
    uas.name,
    `pkill -x sipp; sipp -sn uas -i ${uas.ip} -p ${run.remote.port} -bg -nostdin >/dev/null 2>&1; sleep 1; pgrep -x sipp >/dev/null`,
  );
  try {
    const t0 = Date.now();
    const out = await podExec(
      uac.guest,
      uac.namespace,
      uac.name,
      `sipp ${renderSippArgs(r).map(shellQuote).join(" ")} >/dev/null 2>&1; echo "exit=$?"; cat ${stats}`,
      15 * 60_000,
    );
    const seconds = (Date.now() - t0) / 1000;
    const exitCode = Number(/exit=(\d+)/.exec(out)?.[1] ?? -1);
    return { ...parseSippStats(out.slice(out.indexOf("\n") + 1)), seconds, exitCode };
  } finally {
    await podExec(uas.guest, uas.namespace, uas.name, "pkill -x sipp || true").catch(() => undefined);
  }
}
