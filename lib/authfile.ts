/**
 * memcached's ASCII-auth password file (`-Y FILE`): one `user:password` per
 * line. The file is parsed into a credential list held by an
 * {@link AuthStore}; the server's auth hook checks credentials against it in
 * constant time, and `reload` swaps the list atomically (SIGHUP), keeping
 * the old one when the new file is unreadable or malformed — as memcached.
 *
 * Differences from memcached 1.6.18, all on the lenient/safe side: no limit
 * of 8 entries (memcached silently ignores the rest), no 255-byte line limit,
 * blank lines are skipped, and a missing final newline does not cut the last
 * password's final character.
 * @module
 */

const enc = new TextEncoder();

/** One `user:password` entry, as bytes. */
export interface Credential {
  user: Uint8Array;
  pass: Uint8Array;
}

/** A malformed or unreadable auth file; the message is for the operator. */
export class AuthFileError extends Error {}

/**
 * Parses the text of an auth file. Lines end with `\n` (a trailing `\r` is
 * dropped); the user is everything before the first `:`, the password
 * everything after it (it may contain `:`). Blank lines are skipped; any
 * other line without `:` is an error (memcached refuses to start on it).
 * In a SASL password file (`saslPwdb`, memcached's MEMCACHED_SASL_PWDB)
 * the password ends at the next `:`, as memcached reads it.
 */
export function parseAuthFile(
  text: string,
  name = "auth file",
  saslPwdb = false,
): Credential[] {
  const out: Credential[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i];
    if (l.endsWith("\r")) l = l.slice(0, -1);
    if (l === "") continue;
    const colon = l.indexOf(":");
    if (colon < 0) {
      throw new AuthFileError(
        `${name} line ${i + 1}: malformed entry, should be 'user:password'`,
      );
    }
    let passEnd = saslPwdb ? l.indexOf(":", colon + 1) : -1;
    if (passEnd < 0) passEnd = l.length;
    out.push({
      user: enc.encode(l.slice(0, colon)),
      pass: enc.encode(l.slice(colon + 1, passEnd)),
    });
  }
  return out;
}

/** Reads and parses an auth file; throws {@link AuthFileError}. */
export function readAuthFile(path: string, saslPwdb = false): Credential[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    const hint = e instanceof Deno.errors.NotCapable
      ? ` (run with --allow-read=${path})`
      : "";
    throw new AuthFileError(
      `could not read auth file ${path}: ${(e as Error).message}${hint}`,
    );
  }
  return parseAuthFile(text, path, saslPwdb);
}

/**
 * Compares `a` to `b` touching every byte of `b` whatever the contents, so
 * the time taken does not reveal how long a matching prefix is. Only the
 * length of the stored secret `b` can show through timing.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = b.length;
  const al = a.length;
  for (let i = 0; i < n; i++) {
    // Out-of-range reads of `a` use a fixed byte; the length check fails anyway.
    diff |= (i < al ? a[i] : 0) ^ b[i];
  }
  return diff === 0;
}

/** Credentials in force plus the way to check and replace them. */
export interface AuthStore {
  /** The checker to install as the server's auth hook. */
  check(user: Uint8Array, pass: Uint8Array): boolean;
  /** Replaces the credentials (on success only). */
  set(creds: Credential[]): void;
  /** How many entries are loaded. */
  readonly size: number;
  /** The entries in force (handed to the event loops of `-t N`). */
  readonly entries: Credential[];
}

/**
 * Creates an {@link AuthStore}. `check` scans every entry and compares both
 * user and password of each in constant time, so neither which user exists
 * nor how much of a password matched shows in the response time.
 */
export function createAuthStore(initial: Credential[]): AuthStore {
  let creds = initial;
  return {
    check(user, pass) {
      let ok = 0;
      for (const c of creds) {
        const u = constantTimeEqual(user, c.user) ? 1 : 0;
        const p = constantTimeEqual(pass, c.pass) ? 1 : 0;
        ok |= u & p;
      }
      return ok === 1;
    },
    set(next) {
      creds = next;
    },
    get size() {
      return creds.length;
    },
    get entries() {
      return creds;
    },
  };
}

/**
 * Re-reads `path` into `store`; on error keeps the old credentials and
 * returns the error message (memcached also keeps the old ones).
 */
export function reloadAuthFile(
  store: AuthStore,
  path: string,
  saslPwdb = false,
): string | null {
  try {
    store.set(readAuthFile(path, saslPwdb));
    return null;
  } catch (e) {
    if (e instanceof AuthFileError) return e.message;
    throw e;
  }
}
