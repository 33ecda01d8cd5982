// Loads the KubeVirt operator manifest (local file, mirror URL or the release asset) and
// refuses it unless its SHA-256 matches the pin. Runs before any resource is registered.
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../config/errors";
import type { KubevirtConfig } from "../config/schema";
import { kubevirtOperatorUrl, KUBEVIRT_OPERATOR_SHA256 } from "../config/versions";
import { mirrorOperatorManifest, verifyOperatorManifest } from "../render/kubevirt";

const ROOT = "kubevirt-sriov:platform";

function fail(problem: string, fix: string): never {
  throw new ConfigError(ROOT, [{ path: ["kubevirt", "operatorManifest"], problem, fix }], "cannot use the KubeVirt operator manifest");
}

export async function loadOperatorManifest(kv: KubevirtConfig, registryMirror: string | undefined, baseDir = process.cwd()): Promise<string> {
  const m = kv.operatorManifest;
  let text: string;
  let source: string;
  if (m.file !== undefined) {
    source = path.resolve(baseDir, m.file);
    try {
      text = fs.readFileSync(source, "utf8");
    } catch (e) {
      fail(`cannot read ${source}: ${(e as Error).message}`, "point file at a copy of kubevirt-operator.yaml, relative to the project directory");
    }
  } else {
    source = m.url ?? kubevirtOperatorUrl(kv.version);
    try {
      const res = await fetch(source, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) fail(`downloading ${source} answered HTTP ${res.status}`, "check the URL, or set file to a local copy (air-gapped clusters)");
      text = await res.text();
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      fail(`cannot download ${source}: ${(e as Error).message}`, "set kubevirt.operatorManifest.file to a local copy, or url to a reachable mirror");
    }
  }
  const check = verifyOperatorManifest(text, source, kv.version, m.sha256 ?? KUBEVIRT_OPERATOR_SHA256[kv.version]);
  if (!check.ok) {
    const [problem, fix] = check.message.split(" — ");
    fail(problem, fix);
  }
  return mirrorOperatorManifest(text, registryMirror);
}
