/**
 * Entry point of the optional epoll backend (`--io=epoll`): checks that it
 * can run here, opens libc and starts the loop (`epoll_server.ts`).
 * Importing this module needs no permission and loads no library; only
 * starting the backend needs `--allow-ffi`.
 * @module
 */

import type { Config } from "../../config.ts";
import { systemClock } from "../../clock.ts";
import { type EpollLoop, startEpollLoop } from "./epoll_server.ts";
import type { ServerHooks } from "../server.ts";
import { openLibc, unsupportedReason } from "./libc.ts";

/** The epoll backend cannot run here: a usage problem, not a crash. */
export class EpollUnavailable extends Error {}

/** A running epoll server. */
export type EpollServer = EpollLoop & {
  /** Bound TCP address. */
  readonly hostname: string;
};

/**
 * Starts the epoll backend. Rejects with {@link EpollUnavailable} when it
 * cannot run here (platform, missing `--allow-ffi`, TLS asked for),
 * else with the bind error.
 */
export async function startEpollServer(
  config: Config,
  hooks: ServerHooks = {},
): Promise<EpollServer> {
  const why = unsupportedReason();
  if (why) throw new EpollUnavailable(`--io=epoll ${why}`);
  const ffi = await Deno.permissions.query({ name: "ffi" });
  if (ffi.state !== "granted") {
    throw new EpollUnavailable(
      "--io=epoll needs --allow-ffi (or use --io=portable)",
    );
  }
  if (config.tls) {
    throw new EpollUnavailable(
      "--io=epoll does not serve TLS; use --io=portable",
    );
  }
  if (config.clock !== systemClock) {
    throw new EpollUnavailable("--io=epoll runs on the system clock only");
  }
  const libc = openLibc();
  let loop: EpollLoop;
  try {
    loop = startEpollLoop(libc, config, hooks);
  } catch (e) {
    libc.close();
    throw e;
  }
  const finished = loop.finished.finally(() => libc.close());
  return {
    port: loop.port,
    hostname: config.listen,
    ctx: loop.ctx,
    close: () => loop.close().then(() => finished),
    finished,
  };
}
