/**
 * denocached command-line entry point: flags → configuration → server.
 * SIGINT/SIGTERM stop accepting, let replies in flight go out, exit 0.
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
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  if (cli.config.verbose > 0) {
    console.error(
      `denocached listening on ${cli.config.listen}:${server.port}`,
    );
  }
  await server.finished;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  extras.stop();
  return extras.exitCode();
}

if (import.meta.main) Deno.exit(await main(Deno.args));
