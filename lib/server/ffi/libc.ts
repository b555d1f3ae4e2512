/**
 * The few libc symbols the epoll backend calls, opened with `Deno.dlopen`.
 * Every symbol is declared with 32-bit integer, buffer or pointer types only,
 * so V8 can turn each call into a synchronous fast call (no promise, no
 * BigInt). `size_t` lengths are passed as u32 and `ssize_t` results read as
 * i32: all our lengths are far below 2 GiB, and on x86_64/aarch64 a 32-bit
 * value written to a register zero-extends. Linux only (x86_64, aarch64).
 * Loading this module does nothing; {@link openLibc} needs `--allow-ffi`.
 * @module
 */

/** Linux constants (identical on x86_64 and aarch64). */
export const C = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  IPPROTO_IPV6: 41,
  IPV6_V6ONLY: 26,
  EPOLL_CLOEXEC: 0o2000000,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLL_CTL_MOD: 3,
  EPOLLIN: 0x1,
  EPOLLOUT: 0x4,
  EPOLLERR: 0x8,
  EPOLLHUP: 0x10,
  MSG_NOSIGNAL: 0x4000,
  EINTR: 4,
  EPROTO: 71,
  ECONNABORTED: 103,
  EAGAIN: 11,
  ENFILE: 23,
  EMFILE: 24,
  RLIMIT_NOFILE: 7,
} as const;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  accept4: {
    parameters: ["i32", "buffer", "buffer", "i32"],
    result: "i32",
  },
  recv: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: {
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  // The same call run on a helper thread (returns a promise): lets the
  // event loop run while we wait. Its errno is not ours to read.
  epoll_wait_async: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  inet_pton: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  chmod: { parameters: ["buffer", "u32"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The opened library: raw symbols plus errno access. */
export interface Libc {
  sym: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
  /** `epoll_wait` off-thread; resolves to the event count (0 on error). */
  epollWaitAsync(
    ep: number,
    events: Uint8Array,
    max: number,
    timeoutMs: number,
  ): Promise<number>;
  /** This thread's errno; valid right after a call that returned -1. */
  errno(): number;
  /** The C library's text for an errno value. */
  strerror(e: number): string;
  /** Bytes per `struct epoll_event` (packed on x86_64, padded on aarch64). */
  eventSize: number;
  /** Offset of `data` inside `struct epoll_event`. */
  dataOffset: number;
  /** Releases the library handle. */
  close(): void;
}

/** Why the epoll backend cannot run on this system, or null if it can. */
export function unsupportedReason(): string | null {
  if (Deno.build.os !== "linux") {
    return `needs Linux (this is ${Deno.build.os})`;
  }
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return `needs x86_64 or aarch64 (this is ${Deno.build.arch})`;
  }
  return null;
}

/**
 * Opens libc.so.6 with `symbols` for an optional feature: the library, or
 * why it cannot be had (not Linux x86_64/aarch64, no `--allow-ffi`, no
 * glibc). Never throws and never prompts.
 */
export function openOptional<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | string {
  const why = unsupportedReason();
  if (why !== null) return why;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "needs --allow-ffi";
  }
  try {
    return Deno.dlopen("libc.so.6", symbols);
  } catch (e) {
    return (e as Error).message;
  }
}

/** Opens libc.so.6; throws if unsupported here or `--allow-ffi` is missing. */
export function openLibc(): Libc {
  const why = unsupportedReason();
  if (why) throw new Error(`the epoll backend ${why}`);
  const lib = Deno.dlopen("libc.so.6", SYMBOLS);
  const sym = lib.symbols;
  // errno is thread-local; its address is fixed for this (worker) thread.
  const errPtr = sym.__errno_location();
  if (errPtr === null) throw new Error("libc: no errno location");
  const errView = new Deno.UnsafePointerView(errPtr);
  const x86 = Deno.build.arch === "x86_64";
  return {
    sym,
    errno: () => errView.getInt32(0),
    epollWaitAsync: async (ep, events, max, timeoutMs) =>
      Math.max(0, await sym.epoll_wait_async(ep, events, max, timeoutMs)),
    strerror: (e) => {
      const p = sym.strerror(e);
      return p === null ? `errno ${e}` : Deno.UnsafePointerView.getCString(p);
    },
    eventSize: x86 ? 12 : 16,
    dataOffset: x86 ? 4 : 8,
    close: () => lib.close(),
  };
}

/** A NUL-terminated copy of `s` (UTF-8), for path arguments. */
export function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
