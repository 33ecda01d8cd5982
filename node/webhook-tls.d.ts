// Types of webhook-tls.js: CA and serving certificate for the network-resources-injector webhook.

/** A PEM certificate and its PEM (PKCS#8 "PRIVATE KEY") private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** What the program prints, and reads back from PULUMI_COMMAND_STDOUT on the next run. */
export interface TlsBundle {
  format: 1;
  ca: KeyPair;
  /** PEM certificates to trust: the current CA first, then older CAs that are still valid. */
  caBundle: string;
  /** The webhook's serving certificate, signed by `ca`. */
  tls: KeyPair;
  /** ISO time the serving certificate expires. */
  notAfter: string;
  /** ISO time the CA expires. */
  caNotAfter: string;
}

export interface CaOptions {
  commonName: string;
  days: number;
  now: Date;
}

export interface ServingOptions {
  /** At least one; the first is also the subject common name. */
  dnsNames: readonly string[];
  days: number;
  now: Date;
}

export interface RenewOptions extends ServingOptions {
  /** Lifetime of a newly made CA; should exceed `days`. */
  caDays: number;
}

export function createCa(options: CaOptions): KeyPair;
export function issueServing(ca: KeyPair, options: ServingOptions): KeyPair;
export function renew(previous: TlsBundle | null, options: RenewOptions): TlsBundle;
/** Reads NRI_TLS_* and PULUMI_COMMAND_STDOUT, prints the bundle; returns the exit code. */
export function main(): number;
