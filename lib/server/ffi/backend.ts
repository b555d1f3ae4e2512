/**
 * Whether the epoll transport can run here, and opening libc for it.
 * Importing this module needs no permission and loads no library; only
 * {@link openEpollLibc} needs `--allow-ffi`.
 * @module
 */

import { type Libc, openLibc, unsupportedReason } from "./libc.ts";

/** The epoll transport cannot run here: a usage problem, not a crash. */
export class EpollUnavailable extends Error {}

/** Why epoll cannot be used in this process (platform or permission), or null. */
export function epollUnavailableReason(): string | null {
  const why = unsupportedReason();
  if (why) return why;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "needs --allow-ffi";
  }
  return null;
}

/** Opens libc for the epoll transport, or throws {@link EpollUnavailable}. */
export function openEpollLibc(): Libc {
  const why = epollUnavailableReason();
  if (why) {
    throw new EpollUnavailable(`--io=epoll ${why} (or use --io=portable)`);
  }
  return openLibc();
}
