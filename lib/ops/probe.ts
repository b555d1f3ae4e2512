/**
 * `--probe HOST:PORT` (or a unix socket path): a health check that needs
 * nothing but the binary, for HEALTHCHECK in a distroless image and
 * Kubernetes exec probes. It sends `version` and exits 0 when a
 * `VERSION ...` line comes back within the time limit, 1 otherwise.
 * @module
 */

import { parseListen } from "../listen.ts";

/** How long the whole round trip may take. */
export const PROBE_TIMEOUT_MS = 3000;

/** Runs the probe; resolves to the exit code (0 healthy, 1 not). */
export async function probe(
  target: string,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<number> {
  let conn: Deno.Conn | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<string>((r) => {
    timer = setTimeout(() => r("timed out"), timeoutMs);
  });
  const attempt = (async () => {
    if (target.startsWith("/")) {
      conn = await Deno.connect({ transport: "unix", path: target });
    } else {
      const list = parseListen(target, 11211);
      if (typeof list === "string") return list;
      const host = list[0].host === "0.0.0.0" ? "127.0.0.1" : list[0].host;
      conn = await Deno.connect({ hostname: host, port: list[0].port });
    }
    await conn.write(new TextEncoder().encode("version\r\n"));
    const buf = new Uint8Array(256);
    let got = "";
    while (!got.includes("\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    return got.startsWith("VERSION ")
      ? ""
      : `unexpected reply ${JSON.stringify(got.slice(0, 60))}`;
  })().catch((e) => (e as Error).message);
  const why = await Promise.race([attempt, expired]);
  clearTimeout(timer);
  try {
    (conn as Deno.Conn | null)?.close();
  } catch {
    // already closed
  }
  if (why === "") return 0;
  console.error(`denocached: probe ${target}: ${why}`);
  return 1;
}
