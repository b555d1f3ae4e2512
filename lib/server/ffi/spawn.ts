/**
 * Starting a detached copy of this process through libc `posix_spawn`, for
 * `-d` where Deno's `--allow-run` is not granted but FFI is (the start task,
 * the compiled executable, the container): FFI can already do whatever a
 * native program can, so this withholds nothing that was protected.
 * `posix_spawn` (vfork + exec) is safe in a multi-threaded process, unlike
 * `fork`. The child gets its own session (POSIX_SPAWN_SETSID), stdin and
 * stdout on /dev/null, and stderr kept only when asked.
 * @module
 */

import { cString, unsupportedReason } from "./libc.ts";

const SYMBOLS = {
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "pointer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  environ: { type: "pointer" },
} as const;

/** glibc's POSIX_SPAWN_SETSID. */
const SETSID = 0x80;
const O_RDONLY = 0;
const O_WRONLY = 1;
const WNOHANG = 1;

/** A process started by {@link spawnDetached}. */
export interface Spawned {
  pid: number;
  /** null while it runs, else its exit code (128 + signal if killed). */
  exited(): number | null;
  /** Releases the library. */
  close(): void;
}

/** Whether {@link spawnDetached} can run here. */
export function canSpawnWithFfi(): boolean {
  return unsupportedReason() === null &&
    Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

/** Starts `cmd args` detached; throws with libc's error number on failure. */
export function spawnDetached(
  cmd: string,
  args: string[],
  keepStderr: boolean,
): Spawned {
  const lib = Deno.dlopen("libc.so.6", SYMBOLS);
  const s = lib.symbols;
  // Opaque glibc structs (80 and 336 bytes on x86_64/aarch64): room to spare.
  const actions = new Uint8Array(512);
  const attr = new Uint8Array(512);
  const devNull = cString("/dev/null");
  s.posix_spawn_file_actions_init(actions);
  s.posix_spawn_file_actions_addopen(actions, 0, devNull, O_RDONLY, 0);
  s.posix_spawn_file_actions_addopen(actions, 1, devNull, O_WRONLY, 0);
  if (!keepStderr) {
    s.posix_spawn_file_actions_addopen(actions, 2, devNull, O_WRONLY, 0);
  }
  s.posix_spawnattr_init(attr);
  s.posix_spawnattr_setflags(attr, SETSID);
  const strings = [cmd, ...args].map(cString); // kept alive until the call
  const argv = new BigUint64Array(strings.length + 1);
  strings.forEach((b, i) => {
    argv[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  });
  const pid = new Int32Array(1);
  const environ = new Deno.UnsafePointerView(s.environ!).getPointer();
  const rc = s.posix_spawn(
    new Uint8Array(pid.buffer),
    strings[0],
    actions,
    attr,
    new Uint8Array(argv.buffer),
    environ,
  );
  if (rc !== 0) {
    lib.close();
    throw new Error(`posix_spawn ${cmd}: error ${rc}`);
  }
  const status = new Int32Array(1);
  return {
    pid: pid[0],
    exited() {
      const r = s.waitpid(pid[0], new Uint8Array(status.buffer), WNOHANG);
      if (r === 0) return null;
      const st = status[0];
      return (st & 0x7f) === 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f);
    },
    close: () => lib.close(),
  };
}
