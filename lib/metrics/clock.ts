/**
 * The clock the latency histograms read twice per batch. In Deno
 * `performance.now()` costs about 200 ns (an op into Rust), several per
 * cent of a whole small request; where FFI is granted on Linux (as it is
 * for the epoll transport) `clock_gettime(CLOCK_MONOTONIC)` through a
 * synchronous FFI fast call reads the vDSO in a fraction of that.
 * Elsewhere, or if libc cannot be opened, it is `performance.now()`.
 * Both count milliseconds, as fractions, from an arbitrary origin.
 * @module
 */

const CLOCK_MONOTONIC = 1;

/** A monotonic millisecond clock and the handle it holds. */
export interface MonotonicClock {
  /** What it reads, for /stats.json: "clock_gettime" or "performance.now". */
  name: string;
  now: () => number;
  /** Releases the library handle (later `now` calls are not allowed). */
  close: () => void;
}

/** `performance.now()`, which holds nothing. */
export const PERFORMANCE_CLOCK: MonotonicClock = {
  name: "performance.now",
  now: () => performance.now(),
  close: () => {},
};

/** The cheapest monotonic clock available in this process. */
export function openMonotonicClock(): MonotonicClock {
  return ffiClock() ?? PERFORMANCE_CLOCK;
}

/** `clock_gettime(CLOCK_MONOTONIC)` over FFI, or null where unavailable. */
export function ffiClock(): MonotonicClock | null {
  if (Deno.build.os !== "linux") return null;
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return null;
  }
  let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return null;
    }
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
    const ts = new Uint8Array(16); // struct timespec: two 64-bit fields
    const w = new Uint32Array(ts.buffer); // little-endian on both arches
    // Passed as a pointer taken once: a "buffer" argument is converted on
    // every call, which costs about a third of the call.
    const at = Deno.UnsafePointer.of(ts);
    const get = lib.symbols.clock_gettime;
    if (get(CLOCK_MONOTONIC, at) !== 0) throw new Error("clock_gettime");
    const opened = lib;
    return {
      name: "clock_gettime",
      now: () => {
        get(CLOCK_MONOTONIC, at); // ts (closed over) keeps `at` valid
        return (w[0] + w[1] * 4294967296) * 1000 + w[2] / 1e6;
      },
      close: () => opened.close(),
    };
  } catch {
    lib?.close();
    return null;
  }
}

const SYMBOLS = {
  clock_gettime: { parameters: ["i32", "pointer"], result: "i32" },
} as const;
