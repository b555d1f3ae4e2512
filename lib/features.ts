/**
 * Wires the optional features into a configuration: TLS (`-Z`, `-o ssl_*`),
 * ASCII auth (`-Y`, reloaded on SIGHUP), warm restart (`--snapshot`) and
 * the metrics listener (`--metrics`).
 * None of them needs a Deno permission unless it is used, and the snapshot
 * and metrics modules are imported only when asked for: a server without
 * them never compiles or runs their code (idle RSS, issue #14).
 * @module
 */

import { type CliResult, EX_USAGE } from "./cli.ts";
import type { Server, ServerHooks } from "./server/server.ts";
import {
  AuthFileError,
  type AuthStore,
  createAuthStore,
  type Credential,
  readAuthFile,
  reloadAuthFile,
} from "./authfile.ts";
import { readTlsFiles, TlsSetupError } from "./tls.ts";
import type { Snapshotter } from "./snapshot.ts";

/** A setup failure: message for stderr, sysexits code to exit with. */
export class SetupError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

/**
 * Exit code for every "not permitted" start failure: a Deno permission the
 * feature asked for is missing (sysexits EX_NOPERM).
 */
export const EX_NOPERM = 77;

/** The `--allow-*` flag that grants `d`. */
function flagFor(d: Deno.PermissionDescriptor): string {
  const which = "path" in d && d.path !== undefined
    ? String(d.path)
    : "host" in d && d.host !== undefined
    ? d.host
    : "command" in d && d.command !== undefined
    ? String(d.command)
    : "";
  return which === "" ? `--allow-${d.name}` : `--allow-${d.name}=${which}`;
}

/**
 * The one message for a feature that lacks permissions: null when all of
 * `wanted` are granted, else "FEATURE needs --allow-x=... --allow-y=..."
 * naming every missing grant (exit with {@link EX_NOPERM}).
 */
export function missingPermission(
  feature: string,
  wanted: Deno.PermissionDescriptor[],
  why = "",
): string | null {
  const missing = wanted.filter((d) =>
    Deno.permissions.querySync(d).state !== "granted"
  );
  if (missing.length === 0) return null;
  // One flag per kind, listing all its paths (Deno takes a comma list).
  const byKind = new Map<string, string[]>();
  for (const d of missing) {
    const f = flagFor(d);
    const eq = f.indexOf("=");
    const kind = eq < 0 ? f : f.slice(0, eq);
    const list = byKind.get(kind) ?? [];
    if (eq >= 0) list.push(f.slice(eq + 1));
    byKind.set(kind, list);
  }
  const flags = [...byKind].map(([k, l]) =>
    l.length === 0 ? k : `${k}=${l.join(",")}`
  );
  const because = why === "" ? "" : `: ${why}`;
  return `${feature} needs ${flags.join(" ")} (not permitted${because})`;
}

/** Throws {@link SetupError} ({@link EX_NOPERM}) unless `wanted` are granted. */
function requirePermission(
  feature: string,
  wanted: Deno.PermissionDescriptor[],
): void {
  const why = missingPermission(feature, wanted);
  if (why !== null) throw new SetupError(why, EX_NOPERM);
}

/** Throws unless read and write of `path` and its temporary file are granted. */
function checkSnapshotPerms(path: string, tmp: string): void {
  requirePermission(`--snapshot ${path}`, [
    { name: "read", path },
    { name: "read", path: tmp },
    { name: "write", path },
    { name: "write", path: tmp },
  ]);
}

/** What {@link setupExtras} hands back to `main`. */
export interface Extras {
  hooks: ServerHooks;
  /** Called once the server listens (either backend). */
  started(server: Pick<Server, "ctx"> & { tlsPort?: number }): void;
  /** Removes signal listeners. */
  stop(): void;
  /** 0, or 74 (EX_IOERR) when the final snapshot could not be written. */
  exitCode(): number;
  /** The `-Y`/`-S` entries in force, for the event loops of `-t N`. */
  credentials(): { auth: Credential[] | null; sasl: Credential[] | null };
}

/** A server whose loops take credential reloads (`-t N`, cluster.ts). */
interface TakesCredentials {
  credentials(auth: Credential[] | null, sasl: Credential[] | null): void;
}

/**
 * Applies `-Z`/`-o ssl_*`, `-Y` and `--snapshot*` to the configuration:
 * reads certificate, key and auth file, registers SIGHUP (auth file
 * reload), and returns the hooks that load the snapshot before listening
 * and write it after the last client is gone. A snapshot that cannot be
 * loaded makes `startServer` throw a {@link SetupError} (65, EX_DATAERR).
 */
export async function setupExtras(cli: CliResult): Promise<Extras> {
  const x = cli.extra;
  const config = cli.config;
  const log = (m: string) => console.error(`denocached: ${m}`);
  const hooks: ServerHooks = {};
  const cleanups: (() => void)[] = [];
  let code = 0;
  let snap: Snapshotter | null = null;
  let authStore: AuthStore | null = null;
  let saslStore: AuthStore | null = null;
  let loops: TakesCredentials | null = null;
  const credentials = () => ({
    auth: authStore?.entries ?? null,
    sasl: saslStore?.entries ?? null,
  });
  /** After a SIGHUP reload: the -t N loops get the new entries too. */
  const pushCredentials = () => {
    const c = credentials();
    loops?.credentials(c.auth, c.sasl);
  };
  if (x.tls) {
    if (x.sslChainCert === null) {
      throw new SetupError(
        "-Z needs -o ssl_chain_cert=FILE (try -h)",
        EX_USAGE,
      );
    }
    requirePermission("-Z", [
      { name: "read", path: x.sslChainCert },
      { name: "read", path: x.sslKey ?? x.sslChainCert },
    ]);
    try {
      config.tls = readTlsFiles(x.sslChainCert, x.sslKey, x.sslPort);
    } catch (e) {
      if (e instanceof TlsSetupError) throw new SetupError(e.message, 78);
      throw e;
    }
  } else if (
    x.sslChainCert !== null || x.sslKey !== null || x.sslPort !== null
  ) {
    log("-o ssl_*: ignored without -Z");
  }
  if (x.authFile !== null) {
    const path = x.authFile;
    requirePermission(`-Y ${path}`, [{ name: "read", path }]);
    let auth;
    try {
      auth = createAuthStore(readAuthFile(path));
    } catch (e) {
      if (e instanceof AuthFileError) throw new SetupError(e.message, 78);
      throw e;
    }
    if (auth.size === 0) {
      log(`auth file ${path} has no entries: nobody can log in`);
    }
    config.auth = auth.check;
    authStore = auth;
    const reload = () => {
      const err = reloadAuthFile(auth, path);
      if (err !== null) log(`${err}; keeping the previous credentials`);
      else if (config.verbose > 0) {
        log(`auth file reloaded: ${auth.size} entries`);
      }
      pushCredentials();
    };
    try {
      Deno.addSignalListener("SIGHUP", reload);
      cleanups.push(() => Deno.removeSignalListener("SIGHUP", reload));
    } catch {
      // No SIGHUP on this platform: the file is read at start only.
    }
  }
  if (x.sasl) {
    const path = x.saslPwdb;
    if (path === null) {
      throw new SetupError(
        "-S needs a password file: --sasl-pwdb=FILE or MEMCACHED_SASL_PWDB=FILE",
        EX_USAGE,
      );
    }
    requirePermission(`-S (--sasl-pwdb ${path})`, [{ name: "read", path }]);
    cleanups.push(watchCredentials(
      path,
      true,
      (store) => {
        config.sasl = store.check;
        saslStore = store;
      },
      log,
      config.verbose,
      pushCredentials,
    ));
  }
  if (x.snapshot === null && x.snapshotInterval > 0) {
    throw new SetupError("--snapshot-interval needs --snapshot FILE", EX_USAGE);
  }
  // Loaded only with --snapshot: its CRC table and the code behind it stay
  // out of a server that does not use them.
  const snapshots = x.snapshot === null ? null : await import("./snapshot.ts");
  if (x.snapshot !== null && snapshots !== null) {
    const { checkSnapshotPath, SnapshotPathError } = await import(
      "./snapshot_path.ts"
    );
    const { describeLoad, loadSnapshot, SnapshotError, tmpPath } = snapshots;
    checkSnapshotPerms(x.snapshot, tmpPath(x.snapshot));
    let path: string;
    try {
      path = checkSnapshotPath(x.snapshot);
    } catch (e) {
      if (e instanceof SnapshotPathError) {
        throw new SetupError(e.message, 73); // EX_CANTCREAT
      }
      throw e;
    }
    if (path !== x.snapshot) {
      checkSnapshotPerms(path, tmpPath(path));
      x.snapshot = path;
    }
    hooks.beforeListen = (ctx) => {
      try {
        log(describeLoad(path, loadSnapshot(ctx.store, path)));
      } catch (e) {
        if (e instanceof SnapshotError) throw new SetupError(e.message, 65);
        throw e;
      }
    };
    hooks.onClose = async () => {
      if (snap === null) return;
      try {
        const r = await snap.final();
        if (config.verbose > 0) log(`snapshot ${path}: saved ${r.items} items`);
      } catch (e) {
        log(`final snapshot ${path} FAILED: ${(e as Error).message}`);
        code = 74; // EX_IOERR
      }
    };
  }
  // After the snapshot hooks: metrics open after the snapshot loaded and
  // close after it was written, so /healthz stays 503 until the very end.
  const metrics = config.metrics !== null
    ? (await import("./metrics/hooks.ts")).attachMetrics(config.metrics, hooks)
    : null;
  return {
    hooks,
    started(server) {
      if ("credentials" in server) loops = server as TakesCredentials;
      if (x.snapshot !== null && snapshots !== null) {
        snap = snapshots.startSnapshots(
          server.ctx.store,
          x.snapshot,
          x.snapshotInterval,
          log,
        );
      }
      if (config.verbose > 0 && server.tlsPort) {
        log(`TLS on ${config.listen}:${server.tlsPort}`);
      }
      const m = metrics?.server();
      if (config.verbose > 0 && m) {
        log(`metrics on http://${m.hostname}:${m.port}/`);
      }
    },
    stop() {
      for (const c of cleanups.splice(0)) c();
    },
    exitCode: () => code,
    credentials,
  };
}

/**
 * Reads a `user:password` file into a constant-time checker handed to
 * `use`, and re-reads it on SIGHUP (keeping the old entries if the new file
 * is bad). Returns the cleanup that removes the signal listener.
 */
function watchCredentials(
  path: string,
  saslPwdb: boolean,
  use: (store: AuthStore) => void,
  log: (m: string) => void,
  verbose: number,
  reloaded: () => void,
): () => void {
  let auth;
  try {
    auth = createAuthStore(readAuthFile(path, saslPwdb));
  } catch (e) {
    if (e instanceof AuthFileError) throw new SetupError(e.message, 78);
    throw e;
  }
  if (auth.size === 0) {
    log(`password file ${path} has no entries: nobody can log in`);
  }
  use(auth);
  const reload = () => {
    const err = reloadAuthFile(auth, path, saslPwdb);
    if (err !== null) log(`${err}; keeping the previous credentials`);
    else if (verbose > 0) log(`${path} reloaded: ${auth.size} entries`);
    reloaded();
  };
  try {
    Deno.addSignalListener("SIGHUP", reload);
    return () => Deno.removeSignalListener("SIGHUP", reload);
  } catch {
    return () => {}; // no SIGHUP here: the file is read at start only
  }
}
