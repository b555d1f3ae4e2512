/**
 * `-d`: run in the background. A V8 process cannot `fork()` safely, so the
 * parent starts itself again, detached (its own session), with the same
 * arguments minus `-d` plus the internal `--daemonized`, waits until that
 * child listens (it says so on its stdout), and exits 0 —
 * or with the child's exit code if it failed to start. As in memcached,
 * the daemon keeps stderr only with `-v`. Needs `--allow-run` (for the
 * Deno executable), or else FFI: then the child is started through libc
 * `posix_spawn` (see `../server/ffi/spawn.ts`) and its readiness is seen by
 * connecting to `ready` (its first listener), since it has no pipe to us.
 * @module
 */

import { SHORT_WITH_VALUE } from "../cli.ts";
import { spawnDetached } from "../server/ffi/spawn.ts";

/** The line the child prints on stdout once it serves. */
export const READY = "denocached ready\n";

/** Deno permission flags that reproduce this process's grants for the child. */
export function permissionFlags(paths: string[], hosts: string[]): string[] {
  const flags: string[] = [];
  const kinds = ["net", "read", "write", "ffi", "env", "sys"] as const;
  for (const name of kinds) {
    if (Deno.permissions.querySync({ name }).state === "granted") {
      flags.push(`--allow-${name}`);
      continue;
    }
    // Partial grant: pass on the parts the server uses.
    let parts: string[] = [];
    if (name === "read" || name === "write") {
      parts = paths.filter((path) =>
        Deno.permissions.querySync({ name, path }).state === "granted"
      );
    } else if (name === "net") {
      parts = hosts.filter((host) =>
        Deno.permissions.querySync({ name, host }).state === "granted"
      );
    }
    if (parts.length > 0) flags.push(`--allow-${name}=${parts.join(",")}`);
  }
  return flags;
}

/** The command that runs this program again with `args`. */
export function selfCommand(
  args: string[],
  paths: string[],
  hosts: string[],
): { cmd: string; args: string[] } {
  const cmd = Deno.execPath();
  // A compiled executable embeds its permissions and its program.
  if (Deno.build.standalone) return { cmd, args };
  return {
    cmd,
    args: [
      "run",
      "--no-prompt",
      ...permissionFlags(paths, hosts),
      Deno.mainModule,
      ...args,
    ],
  };
}

/** The permission `-d` needs: running this executable again. */
export function daemonPermission(): Deno.PermissionDescriptor {
  return { name: "run", command: Deno.execPath() };
}

/**
 * Starts the daemon and waits until it serves. Returns 0, or the child's
 * exit code (with a message on stderr) if it stopped while starting.
 */
export async function daemonize(
  args: string[],
  verbose: boolean,
  paths: string[],
  hosts: string[],
  ready: Deno.ConnectOptions | Deno.UnixConnectOptions | null,
): Promise<number> {
  const self = selfCommand(
    [...withoutDaemonFlag(args), "--daemonized"],
    paths,
    hosts,
  );
  if (Deno.permissions.querySync(daemonPermission()).state !== "granted") {
    return await daemonizeWithFfi(self, verbose, ready);
  }
  const child = new Deno.Command(self.cmd, {
    args: self.args,
    stdin: "null",
    stdout: "piped",
    stderr: verbose ? "inherit" : "null",
    detached: true,
  }).spawn();
  if (await readyLine(child.stdout)) {
    child.unref();
    return 0;
  }
  const st = await child.status;
  const code = st.code === 0 ? 1 : st.code;
  console.error(
    `denocached: -d: the server exited (code ${st.code}) while starting` +
      (verbose ? "" : "; run without -d, or with -v, to see why"),
  );
  return code;
}

/** Time a starting daemon is given before the parent gives up. */
const START_LIMIT_MS = 30_000;

/** `-d` through posix_spawn: polls the child's exit and its listener. */
async function daemonizeWithFfi(
  self: { cmd: string; args: string[] },
  verbose: boolean,
  ready: Deno.ConnectOptions | Deno.UnixConnectOptions | null,
): Promise<number> {
  const child = spawnDetached(self.cmd, self.args, verbose);
  try {
    const deadline = Date.now() + START_LIMIT_MS;
    for (;;) {
      const code = child.exited();
      if (code !== null) {
        console.error(
          `denocached: -d: the server exited (code ${code}) while starting` +
            (verbose ? "" : "; run without -d, or with -v, to see why"),
        );
        return code === 0 ? 1 : code;
      }
      if (ready === null || await connects(ready)) return 0;
      if (Date.now() > deadline) {
        console.error(
          `denocached: -d: the server (pid ${child.pid}) did not listen`,
        );
        return 1;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    child.close();
  }
}

async function connects(
  to: Deno.ConnectOptions | Deno.UnixConnectOptions,
): Promise<boolean> {
  try {
    const c = await Deno.connect(to as Deno.ConnectOptions);
    c.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads `out` until the {@link READY} line (true) or its end (false), then
 * lets go of it: the daemon's stdout stays open on its side.
 */
async function readyLine(out: ReadableStream<Uint8Array>): Promise<boolean> {
  const reader = out.getReader();
  const dec = new TextDecoder();
  let said = "";
  try {
    while (said.length < READY.length) {
      const r = await reader.read();
      if (r.done) return false;
      said += dec.decode(r.value, { stream: true });
    }
    return said.startsWith(READY);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Called by the daemon once it serves: tells the parent. */
export function tellParentReady(): void {
  try {
    Deno.stdout.writeSync(new TextEncoder().encode(READY));
  } catch {
    // The parent is gone: nobody to tell.
  }
}

/**
 * `args` without `-d`/`--daemon`, including inside a group of short
 * boolean flags (`-dv` → `-v`). Values of flags that take one are kept.
 */
export function withoutDaemonFlag(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (a === "-d" || a === "--daemon") continue;
    if (/^-[^-]/.test(a)) {
      // Short flags, possibly grouped; a value-taking flag ends the group.
      let kept = "-";
      let j = 1;
      for (; j < a.length; j++) {
        const f = a[j];
        if (f !== "d") kept += f;
        if (SHORT_WITH_VALUE.has(f)) {
          kept += a.slice(j + 1);
          if (j === a.length - 1 && i + 1 < args.length) {
            out.push(kept, args[++i]);
            kept = "";
          }
          break;
        }
      }
      if (kept !== "" && kept !== "-") out.push(kept);
      continue;
    }
    out.push(a);
  }
  return out;
}
