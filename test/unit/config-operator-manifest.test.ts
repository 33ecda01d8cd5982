// Loading the KubeVirt operator manifest: every way it can fail stops the run with a config
// error at kubevirt.operatorManifest that says what went wrong and how to fix it.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../../config/errors";
import { loadOperatorManifest, verifyOperatorManifest } from "../../config/operatorManifest";
import { CONFIG_ROOT, kubevirtConfig, KubevirtConfig } from "../../config/schema";
import { sha256Hex } from "../../config/versions";

const MANIFEST = "kind: Deployment\nspec: { containers: [{ image: quay.io/kubevirt/virt-operator:v1.9.0 }] }\n";
const HEADING =
  "cannot use the KubeVirt operator manifest (1 problem):\n" + `  - ${CONFIG_ROOT}.kubevirt.operatorManifest: `;
/** The fix of a manifest that is not the pinned one. */
const CHANGED =
  "the file was changed or is a different release; fetch the right one, or pin the new hash only after checking it";

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const kv = (operatorManifest: Record<string, string>): KubevirtConfig => kubevirtConfig.parse({ operatorManifest });

/** Rejects with a ConfigError whose one line is HEADING + `line`. */
async function refused(load: Promise<string>, line: RegExp): Promise<void> {
  await assert.rejects(load, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.ok(e.message.startsWith(HEADING), e.message);
    assert.match(e.message.slice(HEADING.length), line);
    return true;
  });
}

describe("operator manifest loader", () => {
  let dir: string;
  let server: http.Server;
  let base: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-manifest-"));
    fs.writeFileSync(path.join(dir, "kubevirt-operator.yaml"), MANIFEST);
    server = http.createServer((req, res) => {
      if (req.url === "/kubevirt-operator.yaml") res.end(MANIFEST);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a pinned local file, relative to the project directory, comes back with its images mirrored", async () => {
    const pinned = kv({ file: "kubevirt-operator.yaml", sha256: sha256Hex(MANIFEST) });
    const text = await loadOperatorManifest(pinned, "reg.local/m", dir);
    assert.equal(text, MANIFEST.replace("quay.io/kubevirt/", "reg.local/m/kubevirt/"));
  });

  it("a pinned URL is downloaded; without a mirror the text is unchanged", async () => {
    const pinned = kv({ url: `${base}/kubevirt-operator.yaml`, sha256: sha256Hex(MANIFEST) });
    const text = await loadOperatorManifest(pinned, undefined, dir);
    assert.equal(text, MANIFEST);
  });

  it("a file that cannot be read", async () => {
    const missing = path.join(dir, "nope.yaml");
    await refused(
      loadOperatorManifest(kv({ file: "nope.yaml", sha256: sha256Hex(MANIFEST) }), undefined, dir),
      new RegExp(
        `^cannot read ${escape(missing)}: ENOENT.* — ` +
          "point file at a copy of kubevirt-operator\\.yaml, relative to the project directory$",
      ),
    );
  });

  it("a URL that answers an HTTP error", async () => {
    await refused(
      loadOperatorManifest(kv({ url: `${base}/gone.yaml` }), undefined, dir),
      new RegExp(
        `^downloading ${escape(base)}/gone\\.yaml answered HTTP 404 — ` +
          "check the URL, or set file to a local copy \\(air-gapped clusters\\)$",
      ),
    );
  });

  it("a URL that cannot be reached", async () => {
    // A port nothing listens on any more: one the system just handed out, closed again.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await refused(
      loadOperatorManifest(kv({ url: `http://127.0.0.1:${port}/kubevirt-operator.yaml` }), undefined, dir),
      new RegExp(
        `^cannot download http://127\\.0\\.0\\.1:${port}/kubevirt-operator\\.yaml: .+ — ` +
          "set kubevirt\\.operatorManifest\\.file to a local copy, or url to a reachable mirror$",
      ),
    );
  });

  it("a manifest whose hash is not the pinned one", async () => {
    const source = path.join(dir, "kubevirt-operator.yaml");
    await refused(
      loadOperatorManifest(kv({ file: "kubevirt-operator.yaml", sha256: "0".repeat(64) }), undefined, dir),
      new RegExp(
        `^the KubeVirt v1\\.9\\.0 operator manifest from ${escape(source)} ` +
          `has SHA-256 ${sha256Hex(MANIFEST)}, expected 0{64} — ` +
          `${CHANGED}$`,
      ),
    );
  });

  it("a release without a pinned hash: the fix names the hash to check and pin", async () => {
    await refused(
      loadOperatorManifest(kv({ file: "kubevirt-operator.yaml" }), undefined, dir),
      new RegExp(
        `, but no SHA-256 is pinned — check it against the release's published checksum, ` +
          `then set kubevirt\\.operatorManifest\\.sha256: ${sha256Hex(MANIFEST)}$`,
      ),
    );
  });

  it("the check returns its problem and fix as data", () => {
    assert.deepEqual(verifyOperatorManifest(MANIFEST, "f.yaml", "v1.9.0", sha256Hex(MANIFEST)), { ok: true });
    const ZEROS = "0".repeat(64);
    const from = "the KubeVirt v1.9.0 operator manifest from f.yaml";
    const check = verifyOperatorManifest(MANIFEST, "f.yaml", "v1.9.0", ZEROS);
    assert.deepEqual(check, {
      ok: false,
      problem: `${from} has SHA-256 ${sha256Hex(MANIFEST)}, expected ${ZEROS}`,
      fix: CHANGED,
    });
  });
});
