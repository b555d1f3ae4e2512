/**
 * denocached command-line entry point: flags → configuration → server.
 * SIGINT, SIGTERM and SIGUSR1 (memcached's graceful stop) stop accepting,
 * let replies in flight go out, write the snapshot if any, exit 0. SIGHUP
 * never kills (it reloads the `-Y` auth file, see lib/features.ts) and
 * SIGPIPE is ignored (a peer that went away is an error on its socket).
 * Optional features (TLS, ASCII auth, snapshots) are wired in
 * lib/features.ts; none of them needs a permission unless it is used.
 * With `-t N` the same file is also each event loop's Worker module.
 * @module
 */

import {
  type CliResult,
  DENOCACHED_VERSION,
  EX_USAGE,
  HELP,
  LICENSE,
  parseCli,
  UsageError,
} from "./lib/cli.ts";
import { VERSION } from "./lib/protocol/context.ts";
import { autoFallbackReason, startServers } from "./lib/server/server.ts";
import { isLoopWorker } from "./lib/server/loop_worker.ts";
import { TlsSetupError } from "./lib/tls.ts";
import { SetupError, setupExtras } from "./lib/features.ts";
import { fitFdLimit } from "./lib/server/fdlimit.ts";
import { EpollUnavailable } from "./lib/server/ffi/backend.ts";
import {
  dropPrivileges,
  identityUnsupported,
} from "./lib/server/ffi/identity.ts";
import { canSpawnWithFfi } from "./lib/server/ffi/spawn.ts";
import {
  daemonize,
  daemonPermission,
  tellParentReady,
} from "./lib/ops/daemon.ts";
import {
  pidFilePermissions,
  removePidFile,
  writePidFile,
} from "./lib/ops/pidfile.ts";
import { EX_NOPERM, missingPermission } from "./lib/features.ts";
import { hostPort, parseListen } from "./lib/listen.ts";
import { probe } from "./lib/ops/probe.ts";
import { dropStartupPages } from "./lib/ops/startup_pages.ts";
import { startHeapTrim } from "./lib/ops/heap_trim.ts";

async function main(args: string[]): Promise<number> {
  let cli;
  try {
    cli = parseCli(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`denocached: ${e.message} (try -h)`);
    return EX_USAGE;
  }
  if (cli.action === "help") {
    console.log(HELP);
    return 0;
  }
  if (cli.action === "probe") return await probe(cli.probe!);
  if (cli.action === "license") {
    console.log(LICENSE);
    return 0;
  }
  if (cli.action === "version") {
    console.log(`denocached ${DENOCACHED_VERSION} (memcached ${VERSION})`);
    return 0;
  }
  for (const note of cli.notes) console.error(`denocached: ${note}`);
  const x = cli.extra;
  const refuse = (why: string | null) => {
    if (why !== null) console.error(`denocached: ${why}`);
    return why !== null;
  };
  if (x.daemon && !x.daemonized) {
    const why = missingPermission(
      "-d",
      [daemonPermission()],
      "it starts the server again in the background (or --allow-ffi)",
    );
    if (!canSpawnWithFfi() && refuse(why)) return EX_NOPERM;
    const { paths, hosts } = grantsUsed(cli);
    return await daemonize(
      args,
      cli.config.verbose > 0,
      paths,
      hosts,
      readyTarget(cli),
    );
  }
  if (x.user !== null) {
    if (refuse(identityUnsupported())) return EX_USAGE;
    const why = missingPermission(
      `-u ${x.user}`,
      [{ name: "ffi" }],
      "it switches user through libc setgid/setuid",
    );
    if (refuse(why)) return EX_NOPERM;
  }
  if (
    x.pidFile !== null &&
    refuse(missingPermission(`-P ${x.pidFile}`, pidFilePermissions(x.pidFile)))
  ) {
    return EX_NOPERM;
  }
  let extras;
  try {
    extras = await setupExtras(cli);
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    console.error(`denocached: ${e.message}`);
    return e.code;
  }
  const fd = fitFdLimit(cli.config);
  if (!fd.ok) {
    console.error(fd.message);
    return 71; // EX_OSERR, as memcached
  }
  if (fd.note) console.error(`denocached: ${fd.note}`);
  let server: Awaited<ReturnType<typeof startServers>> | undefined;
  // Registered before the server starts: with -t N the loops accept while
  // the main thread still awaits their `ready`, and a SIGTERM then must
  // stop the server, not kill the process.
  let stopEarly = false;
  const stop = () => server ? void server.close() : (stopEarly = true);
  const ignore = () => {};
  const listeners: [Deno.Signal, () => void][] = [
    ["SIGINT", stop],
    ["SIGTERM", stop],
    ["SIGUSR1", stop],
    // Registered so the default action (terminate) never runs.
    ["SIGHUP", ignore],
    ["SIGPIPE", ignore],
  ];
  for (const [sig, fn] of listeners) listen(sig, fn);
  try {
    // -t N: the loops load this very file (the bundle is one file too).
    server = await startServers(cli.config, extras.hooks, {
      workerUrl: import.meta.url,
      ...extras.credentials(),
    });
  } catch (e) {
    extras.stop();
    if (e instanceof EpollUnavailable) {
      console.error(`denocached: ${e.message}`);
      return EX_USAGE;
    }
    if (e instanceof SetupError) {
      // e.g. a snapshot that cannot be loaded (65, EX_DATAERR).
      console.error(`denocached: ${e.message}`);
      return e.code;
    }
    if (e instanceof TlsSetupError) {
      console.error(`denocached: ${e.message}`);
      return 78; // EX_CONFIG
    }
    if (e instanceof Deno.errors.NotCapable) {
      // e.g. -s without read/write on the socket path, -l outside --allow-net.
      console.error(
        `denocached: failed to listen: ${(e as Error).message} (not permitted)`,
      );
      return EX_NOPERM;
    }
    console.error(`denocached: failed to listen: ${(e as Error).message}`);
    return 71; // EX_OSERR
  }
  if (cli.config.io === "auto" && server.io === "portable") {
    const why = autoFallbackReason(cli.config);
    console.error(
      `denocached: portable I/O: ${why}`,
    );
  }
  if (x.user !== null) {
    // After binding (a port below 1024 needs root), before anything else.
    const r = dropPrivileges(x.user);
    if (!r.ok) {
      console.error(`denocached: ${r.message}`);
      await server.close();
      extras.stop();
      return r.code;
    }
  }
  if (x.pidFile !== null) {
    const err = writePidFile(x.pidFile, Deno.pid);
    if (err !== null) console.error(`denocached: ${err}`);
  }
  extras.started(server);
  if (stopEarly) void server.close();
  // Serving now: what startup alone read of the binary need not stay resident.
  const pages = dropStartupPages();
  const trim = startHeapTrim();
  if (cli.config.verbose > 1) {
    console.error(
      pages.dropped
        ? `denocached: released ${
          (pages.residentKiB / 1024).toFixed(1)
        } MiB of startup pages of the executable`
        : `denocached: startup pages kept: ${pages.why}`,
    );
    if (typeof trim === "string") {
      console.error(`denocached: heap not trimmed: ${trim}`);
    }
  }
  if (cli.config.verbose > 0) {
    console.error(
      `denocached listening on ${
        hostPort(server.hostname, server.port)
      } (${server.io})`,
    );
  }
  if (x.daemonized) tellParentReady();
  await server.finished;
  if (typeof trim === "function") trim();
  // The handlers stay until the process exits, as memcached's do: a second
  // SIGTERM while the snapshot is written (extras.stop) or the pid file is
  // removed must not kill the process with the default action.
  extras.stop();
  if (x.pidFile !== null) {
    const err = removePidFile(x.pidFile, Deno.pid);
    if (err !== null) console.error(`denocached: ${err}`);
  }
  return extras.exitCode();
}

/**
 * The files and hosts the server uses, for a `-d` child started by a
 * process with partial grants (`--allow-read=FILE`...).
 */
function grantsUsed(cli: CliResult): { paths: string[]; hosts: string[] } {
  const x = cli.extra;
  const c = cli.config;
  const paths = [
    x.snapshot,
    x.snapshot && `${x.snapshot}.tmp`,
    x.pidFile,
    x.pidFile && `${x.pidFile}.tmp`,
    c.unixSocket,
    x.sslChainCert,
    x.sslKey,
    x.authFile,
    x.saslPwdb,
  ].filter((p): p is string => typeof p === "string" && p !== "");
  const list = parseListen(c.listen, c.port);
  const hosts = typeof list === "string"
    ? []
    : list.flatMap((a) => [a.host, hostPort(a.host, a.port)]);
  if (c.metrics) hosts.push(`${c.metrics.hostname}:${c.metrics.port}`);
  return { paths, hosts };
}

/** Where a `-d` parent without a pipe to the daemon sees it serve. */
function readyTarget(
  cli: CliResult,
): Deno.ConnectOptions | Deno.UnixConnectOptions | null {
  const c = cli.config;
  if (c.unixSocket !== null && c.port < 0) {
    return { transport: "unix", path: c.unixSocket };
  }
  const list = parseListen(c.listen, c.port);
  if (typeof list === "string" || c.port <= 0 && list[0].port <= 0) return null;
  const a = list[0];
  // A TLS listener accepts TCP connections too: connecting is enough.
  const host = a.host === "0.0.0.0"
    ? "127.0.0.1"
    : a.host === "::"
    ? "::1"
    : a.host;
  return { hostname: host, port: a.port };
}

/** Adds a signal listener; platforms without that signal are skipped. */
function listen(sig: Deno.Signal, fn: () => void): void {
  try {
    Deno.addSignalListener(sig, fn);
  } catch {
    // Not available here (e.g. Windows): nothing to catch.
  }
}

// As a -t N loop's Worker, importing lib/server/loop_worker.ts started it.
if (import.meta.main && !isLoopWorker()) Deno.exit(await main(Deno.args));
