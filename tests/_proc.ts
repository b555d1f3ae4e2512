/**
 * Fixtures for the shipping tests: run denocached as a separate process
 * (source, bundle or compiled binary) with exact permissions, wait for it
 * to listen on TCP or a unix socket, stop it with a signal, and a short
 * protocol smoke test to run against any of them.
 * @module
 */

import assert from "node:assert/strict";
import { raw, settle } from "./_helpers.ts";

/** Absolute path of the repository root. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Absolute path of `main.ts`. */
export const MAIN = `${ROOT}/main.ts`;
/** The deno running these tests. */
export const DENO = Deno.execPath();

/** A server child process. */
export interface Proc {
  child: Deno.ChildProcess;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Everything it wrote to stdout (only with `stdout: true`). */
  stdout(): string;
  /** Resolves with the exit status (and stderr fully read). */
  status: Promise<Deno.CommandStatus>;
  /** Sends `signal` (default SIGTERM) and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Where to wait for the server: a TCP port on 127.0.0.1 or a socket path. */
export type Target = number | string;

/** Spawns `cmd args` and collects its stderr; does not wait for anything. */
export function spawnProc(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; stdout?: boolean } = {},
): Proc {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: opts.stdout ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  let out = "";
  const collect = (s: ReadableStream<Uint8Array>, add: (t: string) => void) =>
    s.pipeThrough(new TextDecoderStream())
      .pipeTo(new WritableStream({ write: add }))
      .catch(() => {});
  const reading = [collect(child.stderr, (t) => void (err += t))];
  if (opts.stdout) reading.push(collect(child.stdout, (t) => void (out += t)));
  const status = child.status.then(async (s) => {
    await Promise.all(reading);
    return s;
  });
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    status,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // exited already
      }
      return await status;
    },
  };
}

/** Connects once to `target`; true if something accepted. */
export async function canConnect(target: Target): Promise<boolean> {
  try {
    const c = typeof target === "number"
      ? await Deno.connect({ hostname: "127.0.0.1", port: target })
      : await Deno.connect({ transport: "unix", path: target });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawns a server and waits until `target` accepts connections; throws
 * (with the child's stderr) if it exits first or takes over `timeoutMs`.
 */
export async function spawnServer(
  cmd: string,
  args: string[],
  target: Target,
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Proc> {
  const p = spawnProc(cmd, args, opts);
  let exited = false;
  p.status.then(() => (exited = true));
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  while (!(await canConnect(target))) {
    if (exited || Date.now() > deadline) {
      const s = await p.stop("SIGKILL");
      throw new Error(
        `${cmd} ${args.join(" ")} did not listen on ${target} ` +
          `(exit ${s.code}):\n${p.stderr()}`,
      );
    }
    await settle(50);
  }
  return p;
}

/** `deno run <perms> main.ts <flags>`, listening on `target`. */
export function spawnMain(
  perms: string[],
  flags: string[],
  target: Target,
): Promise<Proc> {
  return spawnServer(DENO, ["run", ...perms, MAIN, ...flags], target);
}

/** Output of a `main.ts` run that exits by itself. */
export interface MainRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run --no-prompt <perms> main.ts <flags>` to completion (for
 * flags that exit at once, or a start that must fail).
 */
export async function runMain(
  perms: string[],
  flags: string[],
): Promise<MainRun> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "--no-prompt", ...perms, MAIN, ...flags],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/**
 * A short protocol smoke test: storage, retrieval, multi-get, a binary
 * value, arithmetic and `version`, compared byte for byte.
 */
export async function smoke(target: Target): Promise<void> {
  const c = await raw(target);
  try {
    const bin = "\x00\r\n\xff".repeat(1000);
    await c.send(
      "set a 0 0 5\r\nhello\r\n" +
        `set b 7 0 ${bin.length}\r\n${bin}\r\n` +
        "add a 0 0 1\r\nx\r\n" +
        "get a b missing\r\n" +
        "incr n 1\r\nset n 0 0 2\r\n41\r\nincr n 1\r\n" +
        "delete a\r\nget a\r\nversion\r\n",
    );
    const got = await c.until("VERSION 1.6.18\r\n");
    assert.equal(
      got,
      "STORED\r\nSTORED\r\nNOT_STORED\r\n" +
        `VALUE a 0 5\r\nhello\r\nVALUE b 7 ${bin.length}\r\n${bin}\r\nEND\r\n` +
        "NOT_FOUND\r\nSTORED\r\n42\r\n" +
        "DELETED\r\nEND\r\nVERSION 1.6.18\r\n",
    );
  } finally {
    c.close();
    await settle();
  }
}
