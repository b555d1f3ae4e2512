/**
 * Headless Chromium for tests, driven over the DevTools protocol on a
 * WebSocket (Deno's own): launch, open a page, send commands, collect
 * events. No npm package needed.
 * @module
 */

import { which } from "./_helpers.ts";

/** A launched browser with one attached page. */
export interface Browser {
  /** Sends a command to the page; resolves with its result. */
  send(method: string, params?: Record<string, unknown>): Promise<
    Record<string, unknown>
  >;
  /** Every event received from the page so far. */
  events: { method: string; params: Record<string, unknown> }[];
  close(): Promise<void>;
}

/** Path of a Chromium binary, or null. */
export function findChromium(): string | null {
  return which("chromium") ?? which("chromium-browser") ??
    which("google-chrome");
}

/** Launches `bin` headless with a fresh profile and attaches to a new page. */
export async function launch(bin: string): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "denocached-chromium-" });
  const child = new Deno.Command(bin, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let wsUrl = "";
  const deadline = Date.now() + 30_000;
  while (!wsUrl && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    log += value;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(log);
    if (m) wsUrl = m[1];
  }
  // Keep draining stderr so the browser never blocks on a full pipe.
  const drain = (async () => {
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch { /* closed */ }
  })();
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await drain;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  if (!wsUrl) {
    await kill();
    throw new Error(`chromium did not start: ${log.slice(0, 500)}`);
  }
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = () => rej(new Error("websocket to chromium failed"));
  });
  let nextId = 1;
  const pending = new Map<
    number,
    { res: (v: Record<string, unknown>) => void; rej: (e: Error) => void }
  >();
  const events: Browser["events"] = [];
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data as string);
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.rej(new Error(JSON.stringify(msg.error)));
      else p?.res(msg.result ?? {});
    } else events.push({ method: msg.method, params: msg.params ?? {} });
  };
  const closed = new Promise<void>((r) => (ws.onclose = () => r()));
  function raw(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = nextId++;
    ws.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((res, rej) => {
      pending.set(id, { res, rej });
      setTimeout(() => {
        if (pending.delete(id)) rej(new Error(`${method}: timed out`));
      }, 20_000);
    });
  }
  const { targetId } = await raw("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await raw("Target.attachToTarget", {
    targetId,
    flatten: true,
  });
  return {
    events,
    send: (method, params) => raw(method, params, sessionId as string),
    async close() {
      try {
        await raw("Browser.close");
      } catch { /* gone */ }
      ws.close();
      await closed;
      await kill();
    },
  };
}
