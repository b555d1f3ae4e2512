/**
 * Process plumbing for the benchmark: finding tools on PATH, picking free
 * loopback ports, starting servers in their own process group (optionally
 * pinned with `taskset`), waiting for them to listen, reading their RSS and
 * stopping them again — also on Ctrl-C, so that no process is left behind.
 * @module
 */

/** A function that tears something down; registered while it is alive. */
type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();
let signalsInstalled = false;
let exiting = false;

/** Registers `fn` to run on Ctrl-C / SIGTERM; returns a function that unregisters it. */
export function onInterrupt(fn: Cleanup): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** True once Ctrl-C / SIGTERM started the shutdown. */
export function interrupted(): boolean {
  return exiting;
}

/** Runs every registered cleanup (servers, generators, temp dirs), once each. */
export async function runCleanups(): Promise<void> {
  const all = [...cleanups].reverse();
  cleanups.clear();
  for (const fn of all) {
    try {
      await fn();
    } catch {
      // best effort: keep going with the rest
    }
  }
}

/**
 * On SIGINT / SIGTERM: stop every registered process, then exit with
 * 130 / 143. Safe to call more than once.
 */
export function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  const handle = (sig: "SIGINT" | "SIGTERM", code: number) => {
    if (exiting) return;
    exiting = true;
    console.error(`\n${sig}: stopping servers and load generators ...`);
    runCleanups().finally(() => Deno.exit(code));
  };
  Deno.addSignalListener("SIGINT", () => handle("SIGINT", 130));
  Deno.addSignalListener("SIGTERM", () => handle("SIGTERM", 143));
}

/** Full path of executable `name` on PATH (or `name` itself if it contains a slash), else null. */
export function which(name: string): string | null {
  const candidates = name.includes("/")
    ? [name]
    : (Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin").split(":")
      .filter((d) => d !== "").map((d) => `${d}/${name}`);
  for (const path of candidates) {
    try {
      const st = Deno.statSync(path);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return path;
    } catch {
      // not there
    }
  }
  return null;
}

/** A free TCP port on 127.0.0.1, found by binding port 0 and closing again. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** True if something accepts TCP connections on 127.0.0.1:`port`. */
export async function isListening(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Quotes `s` for /bin/sh if it needs it. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)
    ? s
    : `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** Result of {@link runCapture}. */
export interface CaptureResult {
  /** Exit code (-1 if killed by a signal). */
  code: number;
  /** Captured standard output. */
  stdout: string;
  /** Captured standard error. */
  stderr: string;
  /** True if the process was killed for running past its time limit. */
  timedOut: boolean;
}

/**
 * Runs `cmd args...` to completion, capturing its output; kills it after
 * `timeoutMs` and on Ctrl-C.
 */
export async function runCapture(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<CaptureResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const kill = (sig: Deno.Signal) => {
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  };
  const unregister = onInterrupt(async () => {
    kill("SIGKILL");
    await child.status.catch(() => undefined);
  });
  const timer = setTimeout(() => {
    timedOut = true;
    kill("SIGKILL");
  }, timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.signal === null ? out.code : -1,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
    unregister();
  }
}

/** How to start one server. */
export interface ServerStartOptions {
  /** Label used in messages ("memcached", "denocached"). */
  label: string;
  /** Shell command line (already with the port filled in). */
  command: string;
  /** TCP port the server will listen on. */
  port: number;
  /** CPU list for `taskset -c`, or null for no pinning. */
  cpu: string | null;
  /** File that receives the server's stderr. */
  logPath: string;
  /** How long to wait for the port to accept connections. */
  startTimeoutMs?: number;
}

/**
 * A server running in its own session / process group (started through
 * `setsid`, so its pid is also its process group id), stopped by signalling
 * the whole group.
 */
export class ServerProcess {
  /** Label from the start options. */
  readonly label: string;
  /** Port it listens on. */
  readonly port: number;
  /** Pid of the process we started, which is also its process group id. */
  readonly pgid: number;
  /** Where its stderr goes. */
  readonly logPath: string;
  #child: Deno.ChildProcess;
  #exited = false;
  #unregister: () => void;
  #pid: number | null = null;

  private constructor(opts: ServerStartOptions, child: Deno.ChildProcess) {
    this.label = opts.label;
    this.port = opts.port;
    this.logPath = opts.logPath;
    this.#child = child;
    this.pgid = child.pid;
    child.status.then(() => this.#exited = true, () => this.#exited = true);
    this.#unregister = onInterrupt(() => this.stop());
  }

  /**
   * Starts the server and waits until its port accepts connections (plus a
   * short settling pause). Throws, after cleaning up, if it does not.
   */
  static async start(opts: ServerStartOptions): Promise<ServerProcess> {
    if (await isListening(opts.port)) {
      throw new Error(`port ${opts.port} is already in use`);
    }
    const script = `exec ${opts.command} </dev/null >/dev/null 2>>${
      shQuote(opts.logPath)
    }`;
    const args = opts.cpu === null
      ? ["/bin/sh", "-c", script]
      : ["taskset", "-c", opts.cpu, "/bin/sh", "-c", script];
    const child = new Deno.Command("setsid", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const server = new ServerProcess(opts, child);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      if (server.#exited) break;
      if (await isListening(opts.port)) {
        await sleep(300);
        if (server.#exited) break;
        return server;
      }
      await sleep(50);
    }
    const why = server.#exited ? "exited" : "did not listen in time";
    await server.stop();
    const log = await tail(opts.logPath, 15);
    throw new Error(
      `${opts.label} ${why} (port ${opts.port}); command: ${opts.command}` +
        (log ? `\n--- ${opts.label} stderr ---\n${log}` : ""),
    );
  }

  /** True while the server process has not exited. */
  get alive(): boolean {
    return !this.#exited;
  }

  /**
   * Pid of the process that owns the listening socket (the real server even
   * if the command was a wrapper that forked; found with `ss -p`), falling
   * back to the group leader.
   */
  async pid(): Promise<number> {
    if (this.#pid === null) {
      this.#pid = (await listenerPid(this.port)) ?? this.pgid;
    }
    return this.#pid;
  }

  /** A field of /proc/PID/status in KiB (e.g. "VmRSS", "VmHWM"), or null. */
  async statusKiB(field: string): Promise<number | null> {
    return (await procStatusKiB(await this.pid()))[field] ?? null;
  }

  /**
   * Resets the process's peak RSS (VmHWM) to its current RSS, so a later
   * VmHWM is the peak of what ran in between, not of startup (`echo 5 >
   * /proc/PID/clear_refs`, Linux 4.0+). False where that cannot be done.
   */
  async resetPeak(): Promise<boolean> {
    try {
      const r = await runCapture("sh", [
        "-c",
        `echo 5 > /proc/${await this.pid()}/clear_refs`,
      ], 5000);
      return r.code === 0;
    } catch {
      return false;
    }
  }

  /** Stops the whole process group: SIGTERM, then SIGKILL after 5 s. Idempotent. */
  async stop(): Promise<void> {
    this.#unregister();
    const signal = (sig: Deno.Signal) => {
      try {
        Deno.kill(-this.pgid, sig);
      } catch {
        // group already gone
      }
    };
    signal("SIGTERM");
    const done = this.#child.status.then(() => true, () => true);
    const exited = await Promise.race([done, sleep(5000).then(() => false)]);
    if (!exited) {
      signal("SIGKILL");
      await done;
    }
    // leftovers of the group (a wrapper's children) get no second chance
    signal("SIGKILL");
    for (let i = 0; i < 50 && await isListening(this.port); i++) {
      await sleep(100);
    }
  }
}

/**
 * The "Name: N kB" fields of /proc/PID/status (empty if unreadable). Read
 * through `cat`: Deno only lets --allow-all programs read /proc/PID files.
 */
export async function procStatusKiB(
  pid: number,
): Promise<Record<string, number>> {
  const fields: Record<string, number> = {};
  try {
    const r = await runCapture("cat", [`/proc/${pid}/status`], 5000);
    for (const m of r.stdout.matchAll(/^(\w+):\s+(\d+) kB$/gm)) {
      fields[m[1]] = Number(m[2]);
    }
  } catch {
    // no cat, or process gone
  }
  return fields;
}

/** Last `n` lines of a text file ("" if unreadable). */
export async function tail(path: string, n: number): Promise<string> {
  try {
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    return lines.slice(-n).join("\n");
  } catch {
    return "";
  }
}

/** Pid of the process listening on 127.0.0.1:`port`, from `ss -ltnp` (null if unknown). */
async function listenerPid(port: number): Promise<number | null> {
  if (!which("ss")) return null;
  try {
    const r = await runCapture("ss", ["-Hltnp", `sport = :${port}`], 5000);
    const m = r.stdout.match(/pid=(\d+)/);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Sends `stats` to the server and returns the numeric STAT lines (empty if
 * the server does not answer within `timeoutMs`).
 */
export async function serverStats(
  port: number,
  timeoutMs = 3000,
): Promise<Map<string, number>> {
  const stats = new Map<string, number>();
  let conn: Deno.TcpConn | null = null;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("stats\r\n"));
    const dec = new TextDecoder();
    const buf = new Uint8Array(65536);
    let text = "";
    while (!/(^|\n)(END|ERROR[^\n]*)\r\n$/.test(text)) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n), { stream: true });
    }
    for (const m of text.matchAll(/^STAT (\S+) (-?[\d.]+)\r$/gm)) {
      stats.set(m[1], Number(m[2]));
    }
  } catch {
    // no stats: leave the map empty
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // already closed by the timer
    }
  }
  return stats;
}
