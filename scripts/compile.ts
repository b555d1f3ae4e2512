/**
 * Builds the native executable: `deno task compile [--target T]
 * [--output FILE] [--unix-socket]`.
 *
 * The binary gets `--allow-net` and `--allow-ffi` (the epoll transport,
 * the default fast path, and raising the fd limit for `-c`; FFI can do
 * anything a native program can, so it is an honest grant, not a narrow one).
 * It also gets `--allow-read --allow-write` (unscoped: the paths of `-s`,
 * `-Y`, `-Z` files and `--snapshot` are only known at run time); with FFI
 * granted they add no power. `--unix-socket` is accepted and does nothing. `deno compile` downloads a runtime (`denort`)
 * for the target from Deno's servers; where that is unreachable, point
 * `DENORT_BIN` at a local denort binary of the same version and target —
 * it is passed through the environment, which `deno compile` honours.
 * @module
 */

import { parseArgs } from "node:util";

/**
 * V8 flags every form of the server runs with (deno.json's start tasks, this
 * executable, the Dockerfile through it, bench --hit): a 1 MiB semi-space
 * caps the young generation that per-request garbage fills (V8's default
 * lets it reach 3 × 16 MiB), which took ~10 MiB off the peak RSS at -m 64.
 * Keep deno.json's tasks in step (tests/compile_test.ts checks them).
 */
export const V8_FLAGS = "--max-semi-space-size=1";

/** Short target names → the Rust target triples `deno compile` knows. */
export const TARGETS: Readonly<Record<string, string>> = {
  "linux-x64": "x86_64-unknown-linux-gnu",
  // Docker's TARGETARCH spelling, used by the Dockerfile.
  "linux-amd64": "x86_64-unknown-linux-gnu",
  "linux-arm64": "aarch64-unknown-linux-gnu",
  "macos-x64": "x86_64-apple-darwin",
  "macos-arm64": "aarch64-apple-darwin",
  "windows-x64": "x86_64-pc-windows-msvc",
};

/** What the command line asked for. */
export interface CompileOptions {
  /** Rust target triple, or null for the host. */
  target: string | null;
  /** Output file. */
  output: string;
  /** Old flag, accepted: file access is always granted now. */
  unixSocket: boolean;
}

const USAGE =
  `Usage: deno task compile [--target T] [--output FILE] [--unix-socket]

  --target T      ${Object.keys(TARGETS).join(", ")}
                  (or a full triple: ${
    [...new Set(Object.values(TARGETS))].join(", ")
  })
  --output FILE   default: dist/denocached[-T][.exe]
  --unix-socket   accepted for old scripts (file access is now always granted)

Environment: DENORT_BIN=/path/to/denort uses a local runtime instead of
downloading one (it must match this deno's version and the target).`;

/** Resolves an alias or triple; throws on an unknown target. */
export function resolveTarget(t: string): string {
  if (TARGETS[t]) return TARGETS[t];
  if (Object.values(TARGETS).includes(t)) return t;
  throw new Error(`unknown --target '${t}'`);
}

/** Parses the script's own flags. */
export function parseCompileArgs(args: string[]): CompileOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      target: { type: "string" },
      output: { type: "string", short: "o" },
      "unix-socket": { type: "boolean" },
    },
  });
  const target = values.target ? resolveTarget(values.target) : null;
  const alias = values.target && TARGETS[values.target] ? values.target : null;
  const suffix = target ? `-${alias ?? target}` : "";
  const exe = target?.includes("windows") ? ".exe" : "";
  return {
    target,
    output: values.output ?? `dist/denocached${suffix}${exe}`,
    unixSocket: values["unix-socket"] ?? false,
  };
}

/** The `deno compile` argument list for `opts` (entry point `main.ts`). */
export function compileArgs(opts: CompileOptions, entry = "main.ts"): string[] {
  // --allow-ffi: the epoll transport (the fast path) and setrlimit for -c.
  // FFI can already do whatever a native program can, so withholding file
  // access would protect nothing; granting it makes -s, -Y, -Z and
  // --snapshot work in the executable and the container.
  const args = [
    "compile",
    "--allow-net",
    "--allow-ffi",
    "--allow-read",
    "--allow-write",
    `--v8-flags=${V8_FLAGS}`,
  ];
  // Embed only the npm packages main.ts reaches (none): the lockfile also
  // lists test-only packages, which must not end up in the binary.
  args.push("--exclude-unused-npm");
  if (opts.target) args.push("--target", opts.target);
  args.push("--output", opts.output, entry);
  return args;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  let opts: CompileOptions;
  try {
    opts = parseCompileArgs(argv);
  } catch (e) {
    console.error(`compile: ${(e as Error).message}\n\n${USAGE}`);
    return 64;
  }
  const args = compileArgs(opts);
  const denort = Deno.env.get("DENORT_BIN");
  console.error(
    `deno ${args.join(" ")}${denort ? `  (DENORT_BIN=${denort})` : ""}`,
  );
  // The child inherits our environment, DENORT_BIN included.
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0 && !denort) {
    console.error(
      "compile: if the runtime download failed (no access to dl.deno.land), " +
        "set DENORT_BIN to a local denort binary of the same version.",
    );
  }
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
