// @ts-check
"use strict";
// webhook-tls.js: the CA and serving certificate of the network-resources-injector
// admission webhook: X.509 v3 certificates with ECDSA P-256 keys, signed with SHA-256.
// The certificates are built by @peculiar/x509 on Node's WebCrypto; the keys are made
// and exported by Node itself.
//
//   NRI_TLS_MAIN=1 NRI_TLS_DNS_NAMES=svc.ns.svc,svc.ns.svc.cluster.local \
//   NRI_TLS_DAYS=365 NRI_TLS_CA_DAYS=3650 node - < webhook-tls.js
//
// prints one line of JSON (a format-1 bundle, see webhook-tls.d.ts). On update the
// command provider hands the previous output back in PULUMI_COMMAND_STDOUT, which
// lets the CA live on across runs while the serving certificate is reissued.
//
// It runs inside a Pulumi command resource as `node -` with this text on stdin. Node then
// resolves require() from the working directory, which is the project directory: the
// command sets no `dir`, so it runs where the provider runs, and the engine starts
// providers in the program's directory (the project's `main`). The libraries therefore
// come from the project's node_modules (`npm ci`); without them the program exits 3
// saying so.

const crypto = require("node:crypto");

/** @typedef {import("./webhook-tls").KeyPair} KeyPair */
/** @typedef {import("./webhook-tls").TlsBundle} TlsBundle */
/** @typedef {import("./webhook-tls").CaOptions} CaOptions */
/** @typedef {import("./webhook-tls").ServingOptions} ServingOptions */
/** @typedef {import("./webhook-tls").RenewOptions} RenewOptions */
/** @typedef {typeof import("@peculiar/x509")} X509Lib */

/** @type {X509Lib | undefined} */
let lib;
/** @type {unknown} */
let libError;
try {
  // tsyringe, which @peculiar/x509 uses inside, needs the Reflect metadata API.
  require("reflect-metadata");
  lib = require("@peculiar/x509");
  lib.cryptoProvider.set(/** @type {Crypto} */ (crypto.webcrypto));
} catch (error) {
  libError = error;
}

/** The library, or an error that says where it was looked for and how to get it. */
function x509() {
  if (lib) return lib;
  const why = libError instanceof Error ? libError.message.split("\n")[0] : String(libError);
  throw new MissingLibrary(
    `webhook-tls: cannot load @peculiar/x509 (${why}) from ${process.cwd()}; run \`npm ci\` in the project directory, and run this script from there`,
  );
}

class MissingLibrary extends Error {}

const DAY_MS = 86_400_000;
// Nodes and the API server rarely agree on the time to the second; a certificate
// that is "not yet valid" for a few seconds after creation fails webhook calls.
const CLOCK_SKEW_MS = 5 * 60_000;
const CA_COMMON_NAME = "network-resources-injector-ca";
const MAX_DAYS = 3650;
const MAX_CA_DAYS = 36500;
const EC_KEY = /** @type {const} */ ({ name: "ECDSA", namedCurve: "P-256" });
const SIGNING = /** @type {const} */ ({ name: "ECDSA", hash: "SHA-256" });

// ---------------------------------------------------------------- keys and PEM

async function newKeyPair() {
  return /** @type {CryptoKeyPair} */ (await crypto.webcrypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"]));
}

/** PKCS#8 "PRIVATE KEY" PEM, as Node writes it. @param {CryptoKey} key */
const privateKeyPem = (key) => String(crypto.KeyObject.from(key).export({ type: "pkcs8", format: "pem" }));

/** A PEM private key (PKCS#8 or SEC1) as a WebCrypto signing key. @param {string} pem */
function signingKeyOf(pem) {
  const der = crypto.createPrivateKey(pem).export({ type: "pkcs8", format: "der" });
  return crypto.webcrypto.subtle.importKey("pkcs8", der, EC_KEY, false, ["sign"]);
}

/** One PEM certificate, ending in a newline so that bundles are plain concatenations. @param {import("@peculiar/x509").X509Certificate} cert */
const certificatePem = (cert) => `${cert.toString("pem").trimEnd()}\n`;

/** Every CERTIFICATE block of a text, each as PEM. @param {string} text */
function certificateBlocks(text) {
  let blocks;
  try {
    blocks = x509().PemConverter.decodeWithHeaders(text);
  } catch (error) {
    if (error instanceof MissingLibrary) throw error;
    return [];
  }
  return blocks
    .filter((b) => b.type === "CERTIFICATE")
    .map((b) => x509().PemConverter.encode(b.rawData, "CERTIFICATE"));
}

// ---------------------------------------------------------------- certificates

/**
 * Whole seconds, since certificates cannot say more and callers compare the
 * dates they asked for with the ones they get.
 * @param {Date} now @param {number} days
 */
function validity(now, days) {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError("now must be a valid Date");
  if (!(typeof days === "number" && Number.isFinite(days) && days > 0))
    throw new RangeError(`days must be a positive number, got ${days}`);
  const seconds = (/** @type {number} */ ms) => new Date(Math.floor(ms / 1000) * 1000);
  return { notBefore: seconds(now.getTime() - CLOCK_SKEW_MS), notAfter: seconds(now.getTime() + days * DAY_MS) };
}

/** @param {string} name */
function isDnsName(name) {
  const labels = name.split(".");
  return name.length <= 253 && labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/** @param {readonly string[]} dnsNames */
function checkDnsNames(dnsNames) {
  if (!Array.isArray(dnsNames) || dnsNames.length === 0)
    throw new TypeError("dnsNames must list at least one DNS name");
  const bad = dnsNames.filter((n) => typeof n !== "string" || !isDnsName(n));
  if (bad.length > 0) throw new TypeError(`not DNS names: ${bad.map((n) => JSON.stringify(n)).join(", ")}`);
}

/** CN=<name>, a UTF8String as RFC 5280 asks of new certificates. @param {string} commonName */
const distinguishedName = (commonName) => new (x509().Name)([{ CN: [{ utf8String: commonName }] }]);

/** @param {CaOptions} options @returns {Promise<KeyPair>} */
async function createCa({ commonName, days, now }) {
  if (typeof commonName !== "string" || commonName === "") throw new TypeError("commonName must be a non-empty string");
  const { notBefore, notAfter } = validity(now, days);
  const X = x509();
  const keys = await newKeyPair();
  const cert = await X.X509CertificateGenerator.createSelfSigned({
    name: distinguishedName(commonName),
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      // pathLen 0: this CA signs the webhook's certificate, never another CA.
      new X.BasicConstraintsExtension(true, 0, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.keyCertSign | X.KeyUsageFlags.cRLSign, true),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: certificatePem(cert), key: privateKeyPem(keys.privateKey) };
}

/**
 * Why this pair cannot sign serving certificates, or undefined when it can: it must be a
 * CA certificate (basicConstraints cA, keyCertSign), with an ECDSA P-256 key, and the
 * private key must be the certificate's. Validity is the caller's business.
 * @param {KeyPair} pair
 */
function caProblem(pair) {
  const X = x509();
  let cert;
  let node;
  try {
    node = new crypto.X509Certificate(pair.cert);
    cert = new X.X509Certificate(pair.cert);
  } catch (error) {
    return `its certificate does not parse (${error instanceof Error ? error.message : error})`;
  }
  const constraints = cert.getExtension(X.BasicConstraintsExtension);
  if (!constraints || !constraints.ca) return "its certificate is not a CA (basicConstraints cA is not true)";
  const usage = cert.getExtension(X.KeyUsagesExtension);
  if (!usage || (usage.usages & X.KeyUsageFlags.keyCertSign) === 0)
    return "its certificate may not sign certificates (no keyCertSign key usage)";
  const details = node.publicKey.asymmetricKeyDetails;
  if (node.publicKey.asymmetricKeyType !== "ec" || details?.namedCurve !== "prime256v1")
    return "its key is not ECDSA P-256";
  try {
    if (!node.checkPrivateKey(crypto.createPrivateKey(pair.key)))
      return "its private key does not belong to its certificate";
  } catch (error) {
    return `its private key does not load (${error instanceof Error ? error.message : error})`;
  }
  return undefined;
}

/** @param {KeyPair} ca @param {ServingOptions} options @returns {Promise<KeyPair>} */
async function issueServing(ca, { dnsNames, days, now }) {
  checkDnsNames(dnsNames);
  const X = x509();
  const problem = caProblem(ca);
  if (problem) throw new Error(`the CA cannot sign: ${problem}`);
  const issuer = new X.X509Certificate(ca.cert);
  const wanted = validity(now, days);
  // A leaf that outlives its CA would look valid but fail verification at the end.
  const notAfter = wanted.notAfter > issuer.notAfter ? issuer.notAfter : wanted.notAfter;
  if (notAfter <= wanted.notBefore) throw new RangeError(`the CA expired at ${issuer.notAfter.toISOString()}`);
  const keys = await newKeyPair();
  const issuerKeyId = issuer.getExtension(X.SubjectKeyIdentifierExtension)?.keyId;
  // RFC 5280 caps a CN at 64 characters and clients match the SANs anyway: the CN is just
  // the first name's first label (the service name), which DNS keeps to 63.
  const commonName = dnsNames[0].split(".")[0];
  const cert = await X.X509CertificateGenerator.create({
    subject: distinguishedName(commonName),
    // The CA's own subject, re-encoded from what it parsed to: clients (Go) match the
    // leaf's issuer with the CA's subject byte for byte.
    issuer: issuer.subjectName,
    notBefore: wanted.notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: await signingKeyOf(ca.key),
    signingAlgorithm: SIGNING,
    extensions: [
      new X.BasicConstraintsExtension(false, undefined, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.digitalSignature, true),
      new X.ExtendedKeyUsageExtension([X.ExtendedKeyUsage.serverAuth], false),
      new X.SubjectAlternativeNameExtension(
        dnsNames.map((value) => ({ type: /** @type {const} */ ("dns"), value })),
        false,
      ),
      issuerKeyId
        ? new X.AuthorityKeyIdentifierExtension(issuerKeyId, false)
        : await X.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: certificatePem(cert), key: privateKeyPem(keys.privateKey) };
}

/** The certificate's raw DER and validity, or null when it does not parse. @param {unknown} pem */
function readCertificate(pem) {
  if (typeof pem !== "string") return null;
  try {
    const cert = new (x509().X509Certificate)(pem);
    return {
      pem: certificatePem(cert),
      raw: Buffer.from(cert.rawData),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
  } catch (error) {
    if (error instanceof MissingLibrary) throw error;
    return null;
  }
}

/** A CA certificate (cA and keyCertSign), whoever holds its key. @param {string} pem */
function isCaCertificate(pem) {
  const X = x509();
  try {
    const cert = new X.X509Certificate(pem);
    const usage = cert.getExtension(X.KeyUsagesExtension);
    return (
      cert.getExtension(X.BasicConstraintsExtension)?.ca === true &&
      !!usage &&
      (usage.usages & X.KeyUsageFlags.keyCertSign) !== 0
    );
  } catch {
    return false;
  }
}

/** @param {TlsBundle | null} previous @param {RenewOptions} options @returns {Promise<TlsBundle>} */
async function renew(previous, { dnsNames, days, caDays, now }) {
  const { notBefore: skewed } = validity(now, days);
  const at = new Date(skewed.getTime() + CLOCK_SKEW_MS); // now, in whole seconds
  const validThrough = (/** @type {{ notBefore: Date, notAfter: Date }} */ c, /** @type {Date} */ until) =>
    c.notBefore <= at && c.notAfter > until;
  const prior = previous && previous.format === 1 && previous.ca && typeof previous.ca === "object" ? previous : null;
  const priorCa = prior ? readCertificate(prior.ca.cert) : null;
  // Reuse only while the CA outlives the next serving certificate by a day.
  const mustOutlive = new Date(at.getTime() + (days + 1) * DAY_MS);
  // Only a real CA is reused or kept in the bundle: a leaf or a key-less certificate that
  // found its way into the previous output would sign nothing a client accepts.
  const problem = prior && priorCa ? caProblem(prior.ca) : undefined;
  if (prior && priorCa && problem) warn(`the previous CA cannot be reused: ${problem}; issuing a new CA`);

  /** @type {KeyPair} */
  let ca;
  /** @type {string[]} PEM */
  let extraCas;
  if (prior && priorCa && !problem && validThrough(priorCa, mustOutlive)) {
    ca = { cert: prior.ca.cert, key: prior.ca.key };
    // Older CAs still in the bundle keep trusting serving certs some pod may still
    // present; they leave once expired.
    const bundled = certificateBlocks(typeof prior.caBundle === "string" ? prior.caBundle : "");
    extraCas = bundled.flatMap((pem) => {
      const extra = readCertificate(pem);
      return extra && !extra.raw.equals(priorCa.raw) && validThrough(extra, at) && isCaCertificate(pem)
        ? [extra.pem]
        : [];
    });
  } else {
    ca = await createCa({ commonName: CA_COMMON_NAME, days: caDays, now });
    // The API server must keep trusting the old serving cert until pods pick up the new one.
    extraCas = priorCa && validThrough(priorCa, at) && isCaCertificate(priorCa.pem) ? [priorCa.pem] : [];
  }
  const X = x509();
  const caCert = new X.X509Certificate(ca.cert);
  const tls = await issueServing(ca, { dnsNames, days, now });
  return {
    format: 1,
    ca,
    caBundle: [certificatePem(caCert), ...extraCas].join(""),
    tls,
    notAfter: new X.X509Certificate(tls.cert).notAfter.toISOString(),
    caNotAfter: caCert.notAfter.toISOString(),
  };
}

// ---------------------------------------------------------------- command line

class UsageError extends Error {}

/** @param {string} name @param {string | undefined} value @param {string} problem @param {string} fix */
function usage(name, value, problem, fix) {
  const shown = value === undefined ? "" : `=${JSON.stringify(value)}`;
  return new UsageError(`webhook-tls: ${name}${shown} ${problem}; ${fix}`);
}

/** @param {NodeJS.ProcessEnv} env @param {string} name @param {number} min @param {number} max */
function readDays(env, name, min, max) {
  const value = env[name];
  const fix = `set it to a whole number of days from ${min} to ${max}`;
  if (value === undefined || value.trim() === "") throw usage(name, value, "is not set", fix);
  if (!/^\s*\d+\s*$/.test(value)) throw usage(name, value, "is not a whole number", fix);
  const days = Number(value);
  if (days < min || days > max) throw usage(name, value, "is out of range", fix);
  return days;
}

/** @param {NodeJS.ProcessEnv} env */
function readSettings(env) {
  const raw = env.NRI_TLS_DNS_NAMES;
  const namesFix = "set it to comma-separated DNS names, e.g. svc.ns.svc,svc.ns.svc.cluster.local";
  if (raw === undefined || raw.trim() === "") throw usage("NRI_TLS_DNS_NAMES", raw, "is not set", namesFix);
  const dnsNames = [...new Set(raw.split(",").map((n) => n.trim()))];
  const bad = dnsNames.filter((n) => !isDnsName(n));
  if (bad.length > 0)
    throw usage(
      "NRI_TLS_DNS_NAMES",
      raw,
      `has entries that are not DNS names (${bad.map((n) => JSON.stringify(n)).join(", ")})`,
      namesFix,
    );
  const days = readDays(env, "NRI_TLS_DAYS", 1, MAX_DAYS);
  const caDays = readDays(env, "NRI_TLS_CA_DAYS", days + 1, MAX_CA_DAYS);
  return { dnsNames, days, caDays };
}

/** The previous bundle, or null to start over. @param {string | undefined} stdout @returns {TlsBundle | null} */
function readPrevious(stdout) {
  if (stdout === undefined || stdout.trim() === "") return null;
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(stdout);
  } catch (error) {
    warn(`PULUMI_COMMAND_STDOUT is not JSON (${error instanceof Error ? error.message : error}); issuing a new CA`);
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || /** @type {{ format?: unknown }} */ (parsed).format !== 1) {
    warn("PULUMI_COMMAND_STDOUT is not a format 1 bundle; issuing a new CA");
    return null;
  }
  return /** @type {TlsBundle} */ (parsed);
}

/** @param {string} message */
function warn(message) {
  process.stderr.write(`webhook-tls: warning: ${message}\n`);
}

/** Reads the environment, prints the bundle; resolves to the exit code. */
async function main() {
  let settings;
  try {
    x509();
    settings = readSettings(process.env);
  } catch (error) {
    if (error instanceof MissingLibrary) {
      process.stderr.write(`${error.message}\n`);
      return 3;
    }
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const previous = readPrevious(process.env.PULUMI_COMMAND_STDOUT);
  const bundle = await renew(previous, { ...settings, now: new Date() });
  process.stdout.write(`${JSON.stringify(bundle)}\n`);
  return 0;
}

module.exports = { createCa, issueServing, renew, main };

// Run as a program, never when required as a library: `node webhook-tls.js` makes
// this module require.main, and `node -` (stdin) leaves require.main unset.
if (process.env.NRI_TLS_MAIN === "1" && (require.main === module || require.main === undefined)) {
  main().then(
    (code) => (process.exitCode = code),
    (error) => {
      process.stderr.write(`webhook-tls: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
      process.exitCode = 1;
    },
  );
}
