/**
 * `-u USER`: drops root to USER through libc (`getpwnam`, `setgroups`,
 * `setgid`, `setuid`), in memcached's order and with its messages and exit
 * codes. glibc applies set*id to every thread of the process, so Deno's
 * helper threads change identity too. As in memcached, a process that is
 * not root keeps its identity and `-u` does nothing. Needs `--allow-ffi`.
 * @module
 */

import { cString, unsupportedReason } from "./libc.ts";

const SYMBOLS = {
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getpwnam: { parameters: ["buffer"], result: "pointer" },
  setgroups: { parameters: ["usize", "pointer"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setuid: { parameters: ["u32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** `struct passwd` on LP64 Linux: two pointers, then uid and gid. */
const PW_UID = 16;
const PW_GID = 20;
const EPERM = 1;

/** How dropping privileges went. */
export type DropResult =
  | { ok: true; changed: boolean; uid: number; gid: number }
  | { ok: false; message: string; code: number };

/** Why this platform cannot switch user through libc, or null. */
export function identityUnsupported(): string | null {
  const why = unsupportedReason();
  return why ? `-u ${why}` : null;
}

/**
 * Becomes `user` if running as root; no-op otherwise. Failures carry
 * memcached's message and sysexits code (67 EX_NOUSER, 71 EX_OSERR).
 */
export function dropPrivileges(user: string): DropResult {
  const lib = Deno.dlopen("libc.so.6", SYMBOLS);
  const s = lib.symbols;
  try {
    if (s.getuid() !== 0 && s.geteuid() !== 0) {
      return { ok: true, changed: false, uid: s.getuid(), gid: -1 };
    }
    const pw = s.getpwnam(cString(user));
    if (pw === null) {
      return {
        ok: false,
        message: `can't find the user ${user} to switch to`,
        code: 67,
      };
    }
    const view = new Deno.UnsafePointerView(pw);
    const uid = view.getUint32(PW_UID);
    const gid = view.getUint32(PW_GID);
    const errno = () =>
      new Deno.UnsafePointerView(s.__errno_location()!).getInt32(0);
    if (s.setgroups(0n, null) < 0) {
      // EPERM: already minimally privileged (memcached goes on too).
      const e = errno();
      const p = s.strerror(e);
      const text = p === null
        ? `errno ${e}`
        : Deno.UnsafePointerView.getCString(p);
      if (e !== EPERM) {
        return {
          ok: false,
          message: `failed to drop supplementary groups: ${text}`,
          code: 71,
        };
      }
    }
    if (s.setgid(gid) < 0 || s.setuid(uid) < 0) {
      return {
        ok: false,
        message: `failed to assume identity of user ${user}`,
        code: 71,
      };
    }
    return { ok: true, changed: true, uid, gid };
  } finally {
    lib.close();
  }
}
