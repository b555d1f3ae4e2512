/**
 * The `stats` family: general, settings, items, slabs, sizes, conns,
 * detail, cachedump and reset, with memcached's field names and order so
 * that exporters and dashboards parse them unchanged.
 * @module
 */

import process from "node:process";
import { VERSION } from "./context.ts";
import { resetCounters } from "./counters.ts";
import { line, putText } from "./outbuf.ts";
import { R, reply } from "./reply.ts";
import type { Session } from "./session.ts";
import { ascii, parseUint32, tokenIs } from "./tokens.ts";

const W = {
  reset: ascii("reset"),
  detail: ascii("detail"),
  settings: ascii("settings"),
  cachedump: ascii("cachedump"),
  conns: ascii("conns"),
  items: ascii("items"),
  slabs: ascii("slabs"),
  sizes: ascii("sizes"),
  sizes_enable: ascii("sizes_enable"),
  sizes_disable: ascii("sizes_disable"),
  on: ascii("on"),
  off: ascii("off"),
  dump: ascii("dump"),
};
const DETAIL_USAGE = line("CLIENT_ERROR usage: stats detail on|off|dump");
const BAD_LINE = line("CLIENT_ERROR bad command line");
const ILLEGAL_SLAB = line("CLIENT_ERROR Illegal slab id");

type Row = [string, string | number];

function emit(s: Session, rows: Row[], prefix = ""): void {
  let out = "";
  for (const [k, v] of rows) out += `STAT ${prefix}${k} ${v}\r\n`;
  putText(s.out, out + "END\r\n");
}

function seconds(us: number): string {
  return (us / 1e6).toFixed(6);
}

/** The rows of plain `stats`. */
export function generalStats(s: Session): Row[] {
  const ctx = s.ctx;
  const c = ctx.counters;
  const st = ctx.store.stats;
  const now = ctx.clock.now();
  const cpu = process.cpuUsage();
  return [
    ["pid", Deno.pid],
    ["uptime", now - ctx.started],
    ["time", now],
    ["version", VERSION],
    ["libevent", "deno"],
    ["pointer_size", 64],
    ["rusage_user", seconds(cpu.user)],
    ["rusage_system", seconds(cpu.system)],
    ["max_connections", ctx.config.maxConnections],
    ["curr_connections", c.curr_connections],
    ["total_connections", c.total_connections],
    ["rejected_connections", c.rejected_connections],
    ["connection_structures", c.curr_connections],
    ["cmd_get", c.cmd_get],
    ["cmd_set", c.cmd_set],
    ["cmd_flush", c.cmd_flush],
    ["cmd_touch", c.cmd_touch],
    ["cmd_meta", c.cmd_meta],
    ["get_hits", c.get_hits],
    ["get_misses", c.get_misses],
    ["get_expired", c.get_expired],
    ["get_flushed", c.get_flushed],
    ["delete_misses", c.delete_misses],
    ["delete_hits", c.delete_hits],
    ["incr_misses", c.incr_misses],
    ["incr_hits", c.incr_hits],
    ["decr_misses", c.decr_misses],
    ["decr_hits", c.decr_hits],
    ["cas_misses", c.cas_misses],
    ["cas_hits", c.cas_hits],
    ["cas_badval", c.cas_badval],
    ["touch_hits", c.touch_hits],
    ["touch_misses", c.touch_misses],
    ["store_too_large", c.store_too_large],
    ["store_no_memory", c.store_no_memory],
    ["auth_cmds", c.auth_cmds],
    ["auth_errors", c.auth_errors],
    ["idle_kicks", c.idle_kicks],
    ["bytes_read", c.bytes_read],
    ["bytes_written", c.bytes_written],
    ["limit_maxbytes", ctx.store.limitBytes],
    ["accepting_conns", 1],
    ["threads", 1],
    ["conn_yields", c.conn_yields],
    ["slab_reassign_busy_items", 0],
    ["slabs_moved", st.slabReassigns],
    ["bytes", st.bytes],
    ["curr_items", st.currItems],
    ["total_items", st.totalItems],
    ["expired_unfetched", st.expiredUnfetched],
    ["evicted_unfetched", st.evictedUnfetched],
    ["evicted_active", 0],
    ["evictions", st.evictions],
    ["reclaimed", st.reclaimed],
    ["total_malloced", st.totalMalloced],
  ];
}

/** The rows of `stats settings`. */
export function settingsStats(s: Session): Row[] {
  const cfg = s.ctx.config;
  return [
    ["maxbytes", s.ctx.store.limitBytes],
    ["maxconns", cfg.maxConnections],
    ["tcpport", cfg.port < 0 ? 0 : cfg.port],
    ["udpport", 0],
    ["inter", cfg.listen],
    ["verbosity", s.ctx.verbose],
    ["oldest", 0],
    ["evictions", "on"],
    ["domain_socket", cfg.unixSocket ?? "NULL"],
    ["umask", cfg.unixMask.toString(8)],
    ["shutdown_command", cfg.enableShutdown ? "yes" : "no"],
    ["growth_factor", cfg.growthFactor.toFixed(2)],
    ["chunk_size", 48],
    ["num_threads", 1],
    ["num_threads_per_udp", 1],
    ["stat_key_prefix", ":"],
    ["detail_enabled", "no"],
    ["reqs_per_event", 20],
    ["cas_enabled", "yes"],
    ["tcp_backlog", 1024],
    ["binding_protocol", "ascii"],
    ["auth_enabled_sasl", "no"],
    ["auth_enabled_ascii", s.ctx.auth !== null ? "yes" : "no"],
    ["item_size_max", cfg.maxItemSize],
    ["maxconns_fast", "yes"],
    ["hashpower_init", 0],
    ["slab_reassign", "yes"],
    ["slab_automove", 1],
    ["slab_chunk_max", Math.min(cfg.maxItemSize, 512 * 1024)],
    ["lru_crawler", "yes"],
    ["lru_maintainer_thread", "no"],
    ["hot_lru_pct", 20],
    ["warm_lru_pct", 40],
    ["idle_timeout", cfg.idleTimeout],
    ["watcher_logbuf_size", 0],
    ["worker_logbuf_size", 0],
    ["read_buf_mem_limit", 0],
    ["track_sizes", "no"],
    ["inline_ascii_response", "no"],
    ["ext_item_size", 0],
    ["flush_enabled", cfg.disableFlush ? "no" : "yes"],
    ["dump_enabled", "yes"],
    ["ssl_enabled", "no"],
    ["num_napi_ids", "(null)"],
    ["memory_file", "(null)"],
  ];
}

function classRows(s: Session, items: boolean): Row[] {
  const rows: Row[] = [];
  const now = s.ctx.clock.now();
  let active = 0;
  for (const k of s.ctx.store.classes()) {
    active++;
    if (items) {
      if (k.items === 0) continue;
      rows.push(
        [`items:${k.id}:number`, k.items],
        [`items:${k.id}:age`, k.oldestAge],
        [`items:${k.id}:evicted`, k.evictions],
        [`items:${k.id}:outofmemory`, 0],
      );
    } else {
      const total = k.pages * k.chunksPerPage;
      rows.push(
        [`${k.id}:chunk_size`, k.chunkSize],
        [`${k.id}:chunks_per_page`, k.chunksPerPage],
        [`${k.id}:total_pages`, k.pages],
        [`${k.id}:total_chunks`, total],
        [`${k.id}:used_chunks`, k.usedChunks],
        [`${k.id}:free_chunks`, k.freeChunks],
        [`${k.id}:free_chunks_end`, 0],
      );
    }
  }
  if (!items) {
    rows.push(
      ["active_slabs", active],
      ["total_malloced", s.ctx.store.stats.totalMalloced],
    );
  }
  return rows;
}

/** `stats [sub]`. */
export function statsCommand(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (t.n === 1) {
    emit(s, generalStats(s));
    return 0;
  }
  if (tokenIs(buf, t, 1, W.reset)) {
    resetCounters(s.ctx.counters);
    s.ctx.store.resetStats();
    reply(s, R.RESET);
  } else if (tokenIs(buf, t, 1, W.detail)) {
    if (t.n >= 3 && (tokenIs(buf, t, 2, W.on) || tokenIs(buf, t, 2, W.off))) {
      reply(s, R.OK);
    } else if (t.n >= 3 && tokenIs(buf, t, 2, W.dump)) reply(s, R.END);
    else reply(s, DETAIL_USAGE);
  } else if (tokenIs(buf, t, 1, W.settings)) emit(s, settingsStats(s));
  else if (tokenIs(buf, t, 1, W.items)) emit(s, classRows(s, true));
  else if (tokenIs(buf, t, 1, W.slabs)) emit(s, classRows(s, false));
  else if (tokenIs(buf, t, 1, W.sizes)) {
    putText(s.out, "STAT sizes_status disabled\r\nEND\r\n");
  } else if (
    tokenIs(buf, t, 1, W.sizes_enable) || tokenIs(buf, t, 1, W.sizes_disable)
  ) {
    putText(s.out, "STAT sizes_status disabled\r\n");
  } else if (tokenIs(buf, t, 1, W.conns)) {
    const rows: Row[] = [];
    const now = s.ctx.clock.now();
    for (const c of s.ctx.conns.values()) {
      rows.push(
        [`${c.id}:addr`, c.addr],
        [
          `${c.id}:listen_addr`,
          `tcp:${s.ctx.config.listen}:${s.ctx.config.port}`,
        ],
        [`${c.id}:state`, c.state],
        [`${c.id}:secs_since_last_cmd`, now - c.lastCmd],
      );
    }
    emit(s, rows);
  } else if (tokenIs(buf, t, 1, W.cachedump)) cachedump(s, buf);
  else reply(s, R.ERROR);
  return 0;
}

function cachedump(s: Session, buf: Uint8Array): void {
  const t = s.t;
  if (t.n < 4) {
    reply(s, BAD_LINE);
    return;
  }
  const id = parseUint32(buf, t.start[2], t.end[2]);
  const limit = parseUint32(buf, t.start[3], t.end[3]);
  if (Number.isNaN(id) || Number.isNaN(limit)) {
    reply(s, R.BAD_FORMAT);
    return;
  }
  if (id >= 64) {
    reply(s, ILLEGAL_SLAB);
    return;
  }
  const store = s.ctx.store;
  const dec = new TextDecoder();
  let out = "";
  let n = 0;
  const max = limit === 0 ? Infinity : limit;
  store.forEach((h) => {
    if (n >= max || store.classOf(h) !== id) return;
    n++;
    const ks = store.keyStart(h);
    const key = dec.decode(
      store.keyBytes(h).subarray(ks, ks + store.keyLen(h)),
    );
    out += `ITEM ${key} [${store.valueLen(h)} b; ${store.expOf(h)} s]\r\n`;
  });
  putText(s.out, out + "END\r\n");
}
