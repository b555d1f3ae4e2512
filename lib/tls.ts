/**
 * TLS (`-Z`): memcached's option names (`-o ssl_chain_cert=FILE,ssl_key=FILE`)
 * on top of `Deno.listenTls`. The certificate and key are read once at start
 * (so `--allow-read` of those two files is the only extra permission); the
 * protocol code sees a TLS connection as any other `Deno.Conn`.
 * @module
 */

/** TLS listener settings: PEM text, not paths, so tests need no files. */
export interface TlsConfig {
  /** PEM certificate chain (leaf first). */
  cert: string;
  /** PEM private key. */
  key: string;
  /**
   * Port of a separate TLS listener next to the plain one; null serves TLS
   * on the main port instead (memcached's `-Z` behaviour).
   */
  port: number | null;
}

/** Unusable TLS settings; the message is for the operator. */
export class TlsSetupError extends Error {}

function readPem(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    const hint = e instanceof Deno.errors.NotCapable
      ? ` (run with --allow-read=${path})`
      : "";
    throw new TlsSetupError(
      `could not read ${what} ${path}: ${(e as Error).message}${hint}`,
    );
  }
}

/**
 * Reads the certificate chain and key files. As in memcached, `keyFile` may
 * be omitted when the chain file also holds the private key.
 */
export function readTlsFiles(
  certFile: string,
  keyFile: string | null,
  port: number | null = null,
): TlsConfig {
  const cert = readPem(certFile, "ssl_chain_cert");
  const key = keyFile === null ? cert : readPem(keyFile, "ssl_key");
  if (!cert.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TlsSetupError(`ssl_chain_cert ${certFile}: no PEM certificate`);
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new TlsSetupError(
      `ssl_key ${keyFile ?? certFile}: no PEM private key`,
    );
  }
  return { cert, key, port };
}

/** Opens a TLS listener; bad certificate/key material becomes a {@link TlsSetupError}. */
export function listenTls(
  hostname: string,
  port: number,
  tls: TlsConfig,
): Deno.TlsListener {
  try {
    return Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key });
  } catch (e) {
    // Address problems are not TLS problems: let the caller report them as such.
    if (
      e instanceof Deno.errors.AddrInUse ||
      e instanceof Deno.errors.AddrNotAvailable ||
      e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.NotCapable
    ) throw e;
    throw new TlsSetupError(
      `TLS certificate/key rejected: ${(e as Error).message}`,
    );
  }
}
