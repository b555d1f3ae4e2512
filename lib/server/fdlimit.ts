/**
 * `-c` against the process's open-files limit (RLIMIT_NOFILE), checked at
 * start as memcached does, so connections past the limit never hang
 * silently. With FFI the soft limit is raised (up to the hard limit) to fit
 * `-c`; if the hard limit is too low the start is refused with memcached's
 * message. Without FFI the limit can be neither read nor raised (Deno
 * asks for `--allow-all` to read `/proc/self/limits`), so nothing is
 * checked.
 * @module
 */

import type { Config } from "../config.ts";
import { C, openLibc, unsupportedReason } from "./ffi/libc.ts";

/** File descriptors kept for listeners, the runtime and snapshot files. */
export const FD_RESERVE = 32;

/** What to do about the fd limit before serving. */
export type FdCheck =
  | { ok: true; note: null }
  | { ok: false; message: string };

/**
 * Makes room for `config.maxConnections` connections: raises the soft
 * limit through libc when FFI is granted; without FFI it checks nothing.
 */
export function fitFdLimit(config: Readonly<Config>): FdCheck {
  const want = config.maxConnections + FD_RESERVE;
  const ffi = unsupportedReason() === null &&
    Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  if (ffi) {
    const libc = openLibc();
    try {
      const rl = new BigUint64Array(2);
      const b = new Uint8Array(rl.buffer);
      if (libc.sym.getrlimit(C.RLIMIT_NOFILE, b) !== 0) {
        return { ok: true, note: null };
      }
      if (rl[0] >= BigInt(want)) return { ok: true, note: null };
      if (rl[1] < BigInt(want)) {
        return {
          ok: false,
          message: "failed to set rlimit for open files. Try starting as " +
            `root or requesting smaller maxconns value. (-c ${config.maxConnections} ` +
            `needs ${want} fds, the hard limit is ${rl[1]})`,
        };
      }
      rl[0] = BigInt(want);
      if (libc.sym.setrlimit(C.RLIMIT_NOFILE, b) !== 0) {
        return {
          ok: false,
          message: "failed to set rlimit for open files. Try starting as " +
            "root or requesting smaller maxconns value.",
        };
      }
      return { ok: true, note: null };
    } finally {
      libc.close();
    }
  }
  return { ok: true, note: null };
}
