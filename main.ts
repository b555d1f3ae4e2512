/**
 * denocached command-line entry point: flags → configuration → server.
 * SIGINT/SIGTERM stop accepting, let replies in flight go out, exit 0.
 * @module
 */

import { EX_USAGE, HELP, parseCli, UsageError } from "./lib/cli.ts";
import { VERSION } from "./lib/protocol/context.ts";
import { startServer } from "./lib/server/server.ts";

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
  let server;
  try {
    server = startServer(cli.config);
  } catch (e) {
    console.error(`denocached: failed to listen: ${(e as Error).message}`);
    return 71; // EX_OSERR
  }
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
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
