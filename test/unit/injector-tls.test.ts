// node/webhook-tls.js: certificates for the network-resources-injector webhook, checked by
// Node's X.509 parser, a real TLS handshake, openssl, and Go (the webhook and kube-apiserver).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import * as fs from "node:fs";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { type KeyPair, type TlsBundle, createCa, issueServing, renew } from "../../node/webhook-tls";

const SCRIPT = path.join(__dirname, "../../node/webhook-tls.js");
const DAY = 86_400_000;
const NAMES = ["network-resources-injector-service.kube-system.svc", "network-resources-injector-service.kube-system.svc.cluster.local"];
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000); // certificates keep whole seconds
const at = (days: number) => new Date(NOW.getTime() + days * DAY);
const x509 = (pem: string) => new X509Certificate(pem);
const pemCount = (text: string) => text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;

function keyMatches(pair: KeyPair): boolean {
  return x509(pair.cert).checkPrivateKey(createPrivateKey(pair.key));
}

/** Serves `leaf` on 127.0.0.1 and connects trusting `ca`: "authorized" or why not. */
async function handshake(leaf: KeyPair, ca: string, servername: string): Promise<string> {
  const server = tls.createServer({ cert: leaf.cert, key: leaf.key }, (socket) => socket.end());
  server.on("tlsClientError", () => undefined); // the client hanging up on us is the point of some tests
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve) => {
      const client = tls.connect({ host: "127.0.0.1", port, ca, servername }, () => {
        resolve(client.authorized ? "authorized" : `unauthorized: ${client.authorizationError}`);
        client.end();
      });
      client.on("error", (error) => resolve(`refused: ${error.message}`));
    });
  } finally {
    server.close();
  }
}

describe("webhook-tls: network-resources-injector certificates", () => {
  const ca = createCa({ commonName: "test-ca", days: 30, now: NOW });
  const leaf = issueServing(ca, { dnsNames: NAMES, days: 10, now: NOW });
  let tmp = "";
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "injector-tls-"))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const tmpDir = (name: string) => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    return dir;
  };

  it("createCa: a self-signed CA valid from 5 minutes ago for the requested days, with its key", () => {
    const cert = x509(ca.cert);
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, "CN=test-ca");
    assert.ok(cert.verify(cert.publicKey), "self-signed");
    assert.equal(new Date(cert.validFrom).getTime(), NOW.getTime() - 5 * 60_000);
    assert.equal(new Date(cert.validTo).getTime(), at(30).getTime());
    assert.ok(keyMatches(ca));
    assert.match(ca.key, /^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("issueServing: a non-CA leaf for every DNS name, signed by the CA, with its key", () => {
    const cert = x509(leaf.cert);
    assert.equal(cert.ca, false);
    assert.equal(cert.subject, `CN=${NAMES[0].split(".")[0]}`);
    assert.equal(cert.subjectAltName, NAMES.map((n) => `DNS:${n}`).join(", "));
    assert.ok(cert.checkIssued(x509(ca.cert)));
    assert.ok(cert.verify(x509(ca.cert).publicKey));
    for (const name of NAMES) assert.equal(cert.checkHost(name), name);
    assert.equal(cert.checkHost("other.kube-system.svc"), undefined);
    assert.ok(keyMatches(leaf));
    assert.equal(new Date(cert.validTo).getTime(), at(10).getTime());
  });

  it("encodes what strict parsers check byte for byte: no trailing zero bits in keyUsage, cA FALSE left out", () => {
    const has = (pem: string, hex: string) => x509(pem).raw.includes(Buffer.from(hex.replace(/ /g, ""), "hex"));
    assert.ok(has(ca.cert, "0603551d0f 0101ff 0404 03020106"), "keyUsage keyCertSign + cRLSign: 1 unused bit");
    assert.ok(has(leaf.cert, "0603551d0f 0101ff 0404 03020780"), "keyUsage digitalSignature: 7 unused bits");
    assert.ok(has(leaf.cert, "0603551d13 0101ff 0402 3000"), "basicConstraints: cA FALSE is its DEFAULT");
  });

  it("issueServing: never outlives the CA", () => {
    const long = issueServing(ca, { dnsNames: NAMES, days: 365, now: NOW });
    assert.equal(x509(long.cert).validTo, x509(ca.cert).validTo);
  });

  describe("TLS handshake", () => {
    for (const name of NAMES) {
      it(`a client trusting the CA accepts the webhook as ${name.split(".").slice(2).join(".")}`, async () => {
        assert.equal(await handshake(leaf, ca.cert, name), "authorized");
      });
    }
    it("refuses a name that is not in the certificate", async () => {
      assert.match(await handshake(leaf, ca.cert, "evil.kube-system.svc"), /^refused: .*altnames/i);
    });
    it("refuses the certificate when the client trusts another CA", async () => {
      const other = createCa({ commonName: "test-ca", days: 30, now: NOW }); // same name, other key
      assert.match(await handshake(leaf, other.cert, NAMES[0]), /^refused: /);
    });
  });

  it("openssl verifies the chain strictly and reads the extensions", () => {
    const dir = tmpDir("openssl");
    fs.writeFileSync(path.join(dir, "ca.pem"), ca.cert);
    fs.writeFileSync(path.join(dir, "leaf.pem"), leaf.cert);
    const openssl = (...args: string[]) => spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    const verify = openssl("verify", "-x509_strict", "-CAfile", "ca.pem", "leaf.pem");
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stdout.trim(), "leaf.pem: OK");
    assert.match(openssl("x509", "-noout", "-text", "-in", "ca.pem").stdout, /CA:TRUE, pathlen:0/);
    const text = openssl("x509", "-noout", "-text", "-in", "leaf.pem").stdout;
    assert.match(text, /CA:FALSE/);
    assert.match(text, /Server Authentication/);
    assert.match(text, new RegExp(NAMES.map((n) => `DNS:${n.replace(/\./g, "\\.")}`).join(", ")));
  });

  it("Go's crypto/tls loads the pair and crypto/x509 verifies it for server auth", function () {
    this.timeout(120_000);
    const dir = tmpDir("go");
    const bundle = renew(null, { dnsNames: NAMES, days: 10, caDays: 30, now: NOW });
    fs.writeFileSync(path.join(dir, "ca.crt"), bundle.caBundle);
    fs.writeFileSync(path.join(dir, "tls.crt"), bundle.tls.cert);
    fs.writeFileSync(path.join(dir, "tls.key"), bundle.tls.key);
    fs.writeFileSync(path.join(dir, "go.mod"), "module tlscheck\n\ngo 1.22\n");
    fs.writeFileSync(path.join(dir, "main.go"), GO_CHECK);
    const env = { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" };
    const run = spawnSync("go", ["run", ".", ...NAMES], { cwd: dir, env, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), "OK");
  });

  describe("renew", () => {
    const options = { dnsNames: NAMES, days: 5, caDays: 30, now: NOW };

    it("keeps the CA while it outlives the next serving certificate; always issues a new leaf", () => {
      const first = renew(null, options);
      const second = renew(first, { ...options, now: at(20) }); // the CA has 10 days left, more than 5 + 1
      assert.equal(second.ca.cert, first.ca.cert);
      assert.equal(second.caBundle, first.caBundle);
      assert.notEqual(second.tls.cert, first.tls.cert);
      assert.equal(second.notAfter, at(25).toISOString());
      assert.equal(second.caNotAfter, first.caNotAfter);
    });

    it("makes a new CA near expiry and trusts the old one too, so both serving certs are accepted", async () => {
      const first = renew(null, { ...options, days: 2, caDays: 3 });
      const second = renew(first, options); // the old CA has 3 days left, not more than 5 + 1
      assert.notEqual(second.ca.cert, first.ca.cert);
      assert.equal(x509(second.ca.cert).subject, "CN=network-resources-injector-ca");
      assert.equal(second.caBundle, second.ca.cert + first.ca.cert);
      assert.equal(second.caNotAfter, at(30).toISOString());
      for (const served of [first.tls, second.tls]) {
        assert.equal(await handshake(served, second.caBundle, NAMES[1]), "authorized");
      }
    });

    it("drops an expired CA from the bundle, whether replacing the CA or keeping it", () => {
      const start = renew(null, { ...options, days: 2, caDays: 10 }); // CA1 until day 10
      const rotated = renew(start, { ...options, now: at(9) }); // CA2 until day 39, CA1 kept
      assert.equal(pemCount(rotated.caBundle), 2);
      const kept = renew(rotated, { ...options, now: at(9.5) });
      assert.equal(kept.caBundle, rotated.caBundle, "CA1 is still valid");
      const pruned = renew(kept, { ...options, now: at(11) });
      assert.equal(pruned.ca.cert, rotated.ca.cert);
      assert.equal(pruned.caBundle, rotated.ca.cert, "CA1 expired on day 10");
      const late = renew(start, { ...options, now: at(11) }); // CA1 expired: replaced, not carried
      assert.notEqual(late.ca.cert, start.ca.cert);
      assert.equal(late.caBundle, late.ca.cert);
    });
  });

  describe("main, run as `node -` with the script on stdin", () => {
    const script = fs.readFileSync(SCRIPT, "utf8");
    const good = { NRI_TLS_DNS_NAMES: NAMES.join(","), NRI_TLS_DAYS: "365", NRI_TLS_CA_DAYS: "3650" };
    const run = (vars: Record<string, string>) =>
      spawnSync(process.execPath, ["-"], {
        input: script,
        encoding: "utf8",
        env: { ...process.env, PULUMI_COMMAND_STDOUT: "", ...vars, NRI_TLS_MAIN: "1" },
      });
    const bundleOf = (stdout: string): TlsBundle => {
      assert.equal(stdout.split("\n").length, 2, "one line of JSON");
      const bundle = JSON.parse(stdout) as TlsBundle;
      assert.equal(bundle.format, 1);
      assert.ok(keyMatches(bundle.ca) && keyMatches(bundle.tls));
      assert.ok(x509(bundle.tls.cert).checkIssued(x509(bundle.ca.cert)));
      assert.equal(x509(bundle.tls.cert).subjectAltName, NAMES.map((n) => `DNS:${n}`).join(", "));
      return bundle;
    };

    it("prints a bundle, and reuses its CA when handed the previous output", () => {
      const first = run(good);
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.stderr, "");
      const bundle = bundleOf(first.stdout);
      const again = run({ ...good, PULUMI_COMMAND_STDOUT: first.stdout });
      assert.equal(again.status, 0, again.stderr);
      const next = bundleOf(again.stdout);
      assert.equal(next.ca.cert, bundle.ca.cert);
      assert.notEqual(next.tls.cert, bundle.tls.cert);
    });

    it("exits 2 naming the variable, the problem and the fix when NRI_TLS_DAYS or another setting is bad", () => {
      for (const days of ["0", "3651", "ten", ""]) {
        const r = run({ ...good, NRI_TLS_DAYS: days });
        assert.equal(r.status, 2, `NRI_TLS_DAYS=${days}`);
        assert.match(r.stderr, /NRI_TLS_DAYS.*; set it to a whole number of days from 1 to 3650/);
        assert.equal(r.stdout, "");
      }
      const others = [["NRI_TLS_DNS_NAMES", "ok.svc,not_a name", /"not_a name"/], ["NRI_TLS_CA_DAYS", "365", /from 366 to 36500/]] as const;
      for (const [name, value, says] of others) {
        const r = run({ ...good, [name]: value });
        assert.equal(r.status, 2, `${name}=${value}`);
        assert.match(r.stderr, new RegExp(`^webhook-tls: ${name}=.*${says.source}`));
      }
    });

    it("warns about an unreadable PULUMI_COMMAND_STDOUT and starts over", () => {
      for (const previous of ["{not json", JSON.stringify({ format: 2 })]) {
        const r = run({ ...good, PULUMI_COMMAND_STDOUT: previous });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /warning: PULUMI_COMMAND_STDOUT/);
        bundleOf(r.stdout);
      }
    });
  });
});

// Loads the pair the way the webhook does and verifies it the way kube-apiserver does.
const GO_CHECK = `package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func main() {
	pair, err := tls.X509KeyPair(read("tls.crt"), read("tls.key"))
	check(err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	check(err)
	roots := x509.NewCertPool()
	// AppendCertsFromPEM skips what it cannot parse; parse each CA to see the error.
	for rest := read("ca.crt"); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		ca, err := x509.ParseCertificate(block.Bytes)
		check(err)
		roots.AddCert(ca)
	}
	for _, name := range os.Args[1:] {
		opts := x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		_, err := leaf.Verify(opts)
		check(err)
	}
	fmt.Println("OK")
}

func read(name string) []byte { data, err := os.ReadFile(name); check(err); return data }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`;
