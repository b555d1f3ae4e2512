/**
 * denocached command-line entry point: flags → configuration → server.
 * SIGINT, SIGTERM and SIGUSR1 (memcached's graceful stop) stop accepting,
 * let replies in flight go out, write the snapshot if any, exit 0. SIGHUP
 * never kills (it reloads the `-Y` auth file, see lib/features.ts) and
 * SIGPIPE is ignored (a peer that went away is an error on its socket).
 * Optional features (TLS, ASCII auth, snapshots) are wired in
 * lib/features.ts; none of them needs a permission unless it is used.
 * @module
 */

import { EX_USAGE, HELP, parseCli, UsageError } from "./lib/cli.ts";
import { VERSION } from "./lib/protocol/context.ts";
import { startServer } from "./lib/server/server.ts";
import { TlsSetupError } from "./lib/tls.ts";
import { SnapshotError } from "./lib/snapshot.ts";
import { SetupError, setupExtras } from "./lib/features.ts";
import { EpollUnavailable } from "./lib/server/ffi/backend.ts";

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
  if (cli.action === "version") {
    console.log(`denocached ${VERSION}`);
    return 0;
  }
  for (const note of cli.notes) console.error(`denocached: ${note}`);
  let extras;
  try {
    extras = setupExtras(cli);
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    console.error(`denocached: ${e.message}`);
    return e.code;
  }
  let server;
  try {
    server = startServer(cli.config, extras.hooks);
  } catch (e) {
    extras.stop();
    if (e instanceof EpollUnavailable) {
      console.error(`denocached: ${e.message}`);
      return EX_USAGE;
    }
    if (e instanceof SnapshotError) {
      console.error(`denocached: ${e.message}`);
      return 65; // EX_DATAERR
    }
    if (e instanceof TlsSetupError) {
      console.error(`denocached: ${e.message}`);
      return 78; // EX_CONFIG
    }
    console.error(`denocached: failed to listen: ${(e as Error).message}`);
    return 71; // EX_OSERR
  }
  extras.started(server);
  const stop = () => void server.close();
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
  if (cli.config.verbose > 0) {
    console.error(
      `denocached listening on ${cli.config.listen}:${server.port}`,
    );
  }
  await server.finished;
  for (const [sig, fn] of listeners) unlisten(sig, fn);
  extras.stop();
  return extras.exitCode();
}

/** Adds a signal listener; platforms without that signal are skipped. */
function listen(sig: Deno.Signal, fn: () => void): void {
  try {
    Deno.addSignalListener(sig, fn);
  } catch {
    // Not available here (e.g. Windows): nothing to catch.
  }
}

function unlisten(sig: Deno.Signal, fn: () => void): void {
  try {
    Deno.removeSignalListener(sig, fn);
  } catch {
    // Never added.
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
