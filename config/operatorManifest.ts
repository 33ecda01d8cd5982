// The KubeVirt operator manifest as the program applies it: loaded from a local file, a mirror
// URL or the release asset, refused unless its SHA-256 matches the pin, its images pointed at
// the registry mirror. Not a component: it reads a file or the network before any resource is
// registered, so a bad manifest stops the run with a config error.
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "./errors";
import { CONFIG_ROOT, KubevirtConfig } from "./schema";
import { kubevirtOperatorUrl, KUBEVIRT_OPERATOR_SHA256, sha256Hex } from "./versions";

/** What is wrong with a manifest and how to fix it, or that it is the pinned one. */
export type ManifestCheck = { ok: true } | { ok: false; problem: string; fix: string };

/** Checks the operator manifest's text against the pinned SHA-256. */
export function verifyOperatorManifest(
  text: string,
  source: string,
  version: string,
  pinned: string | undefined,
): ManifestCheck {
  const actual = sha256Hex(text);
  const what = `the KubeVirt ${version} operator manifest from ${source} has SHA-256 ${actual}`;
  if (pinned === undefined) {
    return {
      ok: false,
      problem: `${what}, but no SHA-256 is pinned`,
      fix: `check it against the release's published checksum, then set kubevirt.operatorManifest.sha256: ${actual}`,
    };
  }
  if (actual !== pinned) {
    return {
      ok: false,
      problem: `${what}, expected ${pinned}`,
      fix: "the file was changed or is a different release; fetch the right one, or pin the new hash only after checking it",
    };
  }
  return { ok: true };
}

/** Rewrites the operator's quay.io/kubevirt images to the mirror (air-gapped clusters). */
export function mirrorOperatorManifest(text: string, registryMirror: string | undefined): string {
  if (registryMirror === undefined) return text;
  return text.split("quay.io/kubevirt/").join(`${registryMirror.replace(/\/$/, "")}/kubevirt/`);
}

function fail(problem: string, fix: string): never {
  const problems = [{ path: ["kubevirt", "operatorManifest"], problem, fix }];
  throw new ConfigError(CONFIG_ROOT, problems, "cannot use the KubeVirt operator manifest");
}

export async function loadOperatorManifest(
  kv: KubevirtConfig,
  registryMirror: string | undefined,
  baseDir = process.cwd(),
): Promise<string> {
  const m = kv.operatorManifest;
  let text: string;
  let source: string;
  if (m.file !== undefined) {
    source = path.resolve(baseDir, m.file);
    try {
      text = fs.readFileSync(source, "utf8");
    } catch (e) {
      const fix = "point file at a copy of kubevirt-operator.yaml, relative to the project directory";
      fail(`cannot read ${source}: ${(e as Error).message}`, fix);
    }
  } else {
    source = m.url ?? kubevirtOperatorUrl(kv.version);
    try {
      const res = await fetch(source, { signal: AbortSignal.timeout(30_000) });
      const fix = "check the URL, or set file to a local copy (air-gapped clusters)";
      if (!res.ok) fail(`downloading ${source} answered HTTP ${res.status}`, fix);
      text = await res.text();
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      const fix = "set kubevirt.operatorManifest.file to a local copy, or url to a reachable mirror";
      fail(`cannot download ${source}: ${(e as Error).message}`, fix);
    }
  }
  const check = verifyOperatorManifest(text, source, kv.version, m.sha256 ?? KUBEVIRT_OPERATOR_SHA256[kv.version]);
  if (!check.ok) fail(check.problem, check.fix);
  return mirrorOperatorManifest(text, registryMirror);
}
