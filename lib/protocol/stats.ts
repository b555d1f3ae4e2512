/**
 * The `stats` family: general, settings, items, slabs, sizes, conns,
 * detail, cachedump and reset, with memcached's field names and order so
 * that exporters and dashboards parse them unchanged.
 * @module
 */

import { VERSION } from "./context.ts";
import { resetCounters } from "./counters.ts";
import { loopCounters, totalCounters } from "./shared_counters.ts";
import { publishConns } from "./conn_table.ts";
import { line, putBytes, putRange, putText, putUint } from "./outbuf.ts";
import { R, reply } from "./reply.ts";
import { DUMP_MORE, MAX_WIRE_CLASS, PAUSE, type Session } from "./types.ts";
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
  loops: ascii("loops"),
  sizes_enable: ascii("sizes_enable"),
  sizes_disable: ascii("sizes_disable"),
  on: ascii("on"),
  off: ascii("off"),
  dump: ascii("dump"),
};
const DETAIL_USAGE = line("CLIENT_ERROR usage: stats detail on|off|dump");
const BAD_LINE = line("CLIENT_ERROR bad command line");
const ILLEGAL_SLAB = line("CLIENT_ERROR Illegal slab id");
const DUMP_OFF = line("CLIENT_ERROR stats cachedump not allowed");
/** memcached's cap on a `stats cachedump` reply (items.c). */
const CACHEDUMP_MAX = 2 * 1024 * 1024;
/**
 * Items (live or dead) one `stats cachedump` looks at at most: as many as
 * the shortest lines could fill the 2 MiB cap with, so a class full of
 * flushed items is not walked to its end.
 */
const CACHEDUMP_LOOK = CACHEDUMP_MAX >>> 4;
/** Items one slice of a cachedump looks at (well under a millisecond). */
const DUMP_SLICE = 4096;
const ITEM_ = ascii("ITEM ");
const BRACKET = ascii(" [");
const B_ = ascii(" b; ");
const S_ = ascii(" s]\r\n");

function digits(v: number): number {
  let d = 1;
  for (; v >= 10; v = Math.floor(v / 10)) d++;
  return d;
}

/** One stat: name and value, as `STAT name value` prints them. */
export type Row = [string, string | number];

/** memcached's prot_text() of each `-B` choice. */
const BINDING = {
  auto: "auto-negotiate",
  ascii: "ascii",
  binary: "binary",
} as const;

function emit(s: Session, rows: Row[], prefix = ""): void {
  let out = "";
  for (const [k, v] of rows) out += `STAT ${prefix}${k} ${v}\r\n`;
  putText(s.out, out + "END\r\n");
}

/** Connection buffer rows without a connection core (an idle memcached's). */
const NO_BUDGET: Row[] = [
  ["response_obj_oom", 0],
  ["response_obj_count", 0],
  ["response_obj_bytes", 0],
  ["read_buf_count", 0],
  ["read_buf_bytes", 0],
  ["read_buf_bytes_free", 0],
  ["read_buf_oom", 0],
];

function seconds(us: number): string {
  return (us / 1e6).toFixed(6);
}

/** Microseconds of CPU time used, as `getrusage(RUSAGE_SELF)` gives them. */
type CpuUsage = { user: number; system: number };

// `Deno.cpuUsage` (getrusage, no permission) is not in Deno's types yet.
// node:process reads the same, but merely importing it keeps ~3.5 MiB of
// node compatibility code resident: its global is read only on a Deno
// without `Deno.cpuUsage`.
const denoCpuUsage = (Deno as { cpuUsage?: () => CpuUsage }).cpuUsage;
const cpuUsage = (): CpuUsage =>
  denoCpuUsage?.() ??
    (globalThis as { process?: { cpuUsage(): CpuUsage } }).process
      ?.cpuUsage() ??
    { user: 0, system: 0 };

/**
 * The rows of plain `stats`, every field memcached 1.6.18 prints, in its
 * order. Fields of machinery we do not have (response objects, read
 * buffers, the hash table's expansion, LRU maintainer/crawler threads,
 * loggers) report the value an idle memcached shows.
 */
export function generalStats(s: Session): Row[] {
  const ctx = s.ctx;
  // With -t N: every loop's counters summed (shared_counters.ts).
  const c = totalCounters(ctx.counters);
  const st = ctx.store.stats;
  const cfg = ctx.config;
  const now = ctx.clock.now();
  const cpu = cpuUsage();
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
    ...(ctx.budget?.statRows() ?? NO_BUDGET),
    ["reserved_fds", 0],
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
    // memcached prints it only with -o idle_timeout set.
    ...(cfg.idleTimeout > 0 ? [["idle_kicks", c.idle_kicks] as Row] : []),
    ["bytes_read", c.bytes_read],
    ["bytes_written", c.bytes_written],
    ["limit_maxbytes", ctx.store.limitBytes],
    ["accepting_conns", 1],
    ["listen_disabled_num", 0],
    ["time_in_listen_disabled_us", 0],
    ["threads", (ctx.counters.shared?.loops ?? 0) + 1],
    ["conn_yields", c.conn_yields],
    ["hash_power_level", 16],
    ["hash_bytes", 524288],
    ["hash_is_expanding", 0],
    ["slab_reassign_rescues", 0],
    ["slab_reassign_chunk_rescues", 0],
    ["slab_reassign_evictions_nomem", 0],
    ["slab_reassign_inline_reclaim", 0],
    ["slab_reassign_busy_items", 0],
    ["slab_reassign_busy_deletes", 0],
    ["slab_reassign_running", 0],
    ["slabs_moved", st.slabReassigns],
    ["lru_crawler_running", 0],
    ["lru_crawler_starts", 0],
    ["lru_maintainer_juggles", 0],
    ["malloc_fails", 0],
    ["log_worker_dropped", 0],
    ["log_worker_written", 0],
    ["log_watcher_skipped", 0],
    ["log_watcher_sent", 0],
    ["log_watchers", 0],
    ["unexpected_napi_ids", 0],
    ["round_robin_fallback", 0],
    ["bytes", st.bytes],
    ["curr_items", st.currItems],
    ["total_items", st.totalItems],
    ["slab_global_page_pool", 0],
    ["expired_unfetched", st.expiredUnfetched],
    ["evicted_unfetched", st.evictedUnfetched],
    ["evicted_active", 0],
    ["evictions", st.evictions],
    ["reclaimed", st.reclaimed],
    ["crawler_reclaimed", 0],
    ["crawler_items_checked", 0],
    ["lrutail_reflocked", 0],
    ["moves_to_cold", 0],
    ["moves_to_warm", 0],
    ["moves_within_lru", 0],
    ["direct_reclaims", 0],
    ["lru_bumps_dropped", 0],
  ];
}

/**
 * The rows of `stats settings`, memcached 1.6.18's fields in its order
 * (extstore and TLS fields show memcached's values with those features off).
 */
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
    ["num_threads", (s.ctx.counters.shared?.loops ?? 0) + 1],
    ["num_threads_per_udp", 1],
    ["stat_key_prefix", ":"],
    ["detail_enabled", "no"],
    ["reqs_per_event", 20],
    ["cas_enabled", "yes"],
    ["tcp_backlog", 1024],
    ["binding_protocol", BINDING[cfg.protocol]],
    ["auth_enabled_sasl", s.ctx.sasl !== null ? "yes" : "no"],
    ["auth_enabled_ascii", s.ctx.auth !== null ? "yes" : "no"],
    ["item_size_max", cfg.maxItemSize],
    ["maxconns_fast", "yes"],
    ["hashpower_init", 0],
    ["slab_reassign", "yes"],
    ["slab_automove", 1],
    ["slab_automove_ratio", "0.80"],
    ["slab_automove_window", 30],
    ["slab_chunk_max", Math.min(cfg.maxItemSize, 512 * 1024)],
    ["lru_crawler", "yes"],
    ["lru_crawler_sleep", 100],
    ["lru_crawler_tocrawl", 0],
    ["tail_repair_time", 0],
    ["flush_enabled", cfg.disableFlush ? "no" : "yes"],
    ["dump_enabled", cfg.disableDumping ? "no" : "yes"],
    ["hash_algorithm", "murmur3"],
    ["lru_maintainer_thread", "no"],
    ["lru_segmented", "no"],
    ["hot_lru_pct", 20],
    ["warm_lru_pct", 40],
    ["hot_max_factor", "0.20"],
    ["warm_max_factor", "2.00"],
    ["temp_lru", "no"],
    ["temporary_ttl", 61],
    ["idle_timeout", cfg.idleTimeout],
    ["watcher_logbuf_size", 0],
    ["worker_logbuf_size", 0],
    ["read_buf_mem_limit", Math.floor((s.ctx.budget?.limit ?? 0) / 1048576)],
    ["track_sizes", "no"],
    ["inline_ascii_response", "no"],
    ["ext_item_size", 512],
    ["ext_item_age", 4294967295],
    ["ext_low_ttl", 0],
    ["ext_recache_rate", 2000],
    ["ext_wbuf_size", 4194304],
    ["ext_compact_under", 0],
    ["ext_drop_under", 0],
    ["ext_max_sleep", 1000000],
    ["ext_max_frag", "0.80"],
    ["slab_automove_freeratio", "0.010"],
    ["ext_drop_unread", "no"],
    ["ssl_enabled", "no"],
    ["ssl_chain_cert", "(null)"],
    ["ssl_key", "(null)"],
    ["ssl_verify_mode", 0],
    ["ssl_keyformat", 1],
    ["ssl_ciphers", "NULL"],
    ["ssl_ca_cert", "NULL"],
    ["ssl_wbuf_size", 16384],
    ["ssl_session_cache", "no"],
    ["ssl_kernel_tls", "no"],
    ["ssl_min_version", "tlsv1.2"],
    ["num_napi_ids", "(null)"],
    ["memory_file", "(null)"],
  ];
}

/** `stats items` (items true) or `stats slabs` rows. */
export function classRows(s: Session, items: boolean): Row[] {
  const rows: Row[] = [];
  const sc = totalCounters(s.ctx.counters).slab;
  let active = 0;
  for (const k of s.ctx.store.classes()) {
    active++;
    const id = k.id;
    if (items) {
      if (k.items === 0) continue;
      // One LRU per class here: every item counts as COLD; HOT/WARM/TEMP
      // segments and the maintainer's moves do not exist.
      const p = `items:${id}:`;
      rows.push(
        [p + "number", k.items],
        [p + "number_hot", 0],
        [p + "number_warm", 0],
        [p + "number_cold", k.items],
        [p + "age_hot", 0],
        [p + "age_warm", 0],
        [p + "age", k.oldestAge],
        [p + "mem_requested", k.requested],
        [p + "evicted", k.evictions],
        [p + "evicted_nonzero", 0],
        [p + "evicted_time", 0],
        [p + "outofmemory", 0],
        [p + "tailrepairs", 0],
        [p + "reclaimed", 0],
        [p + "expired_unfetched", 0],
        [p + "evicted_unfetched", 0],
        [p + "evicted_active", 0],
        [p + "crawler_reclaimed", 0],
        [p + "crawler_items_checked", 0],
        [p + "lrutail_reflocked", 0],
        [p + "moves_to_cold", 0],
        [p + "moves_to_warm", 0],
        [p + "moves_within_lru", 0],
        [p + "direct_reclaims", 0],
        [p + "hits_to_hot", 0],
        [p + "hits_to_warm", 0],
        [p + "hits_to_cold", sc.get_hits[id]],
        [p + "hits_to_temp", 0],
      );
    } else {
      const total = k.pages * k.chunksPerPage;
      rows.push(
        [`${id}:chunk_size`, k.chunkSize],
        [`${id}:chunks_per_page`, k.chunksPerPage],
        [`${id}:total_pages`, k.pages],
        [`${id}:total_chunks`, total],
        [`${id}:used_chunks`, k.usedChunks],
        [`${id}:free_chunks`, k.freeChunks],
        [`${id}:free_chunks_end`, 0],
        [`${id}:get_hits`, sc.get_hits[id]],
        [`${id}:cmd_set`, sc.cmd_set[id]],
        [`${id}:delete_hits`, sc.delete_hits[id]],
        [`${id}:incr_hits`, sc.incr_hits[id]],
        [`${id}:decr_hits`, sc.decr_hits[id]],
        [`${id}:cas_hits`, sc.cas_hits[id]],
        [`${id}:cas_badval`, sc.cas_badval[id]],
        [`${id}:touch_hits`, sc.touch_hits[id]],
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
  } else if (tokenIs(buf, t, 1, W.loops)) emit(s, loopRows(s));
  else if (tokenIs(buf, t, 1, W.conns)) {
    const rows: Row[] = [];
    const now = s.ctx.clock.now();
    // Listeners first (they were registered first), without a listen_addr,
    // as memcached prints its listening connections.
    // -t N: every loop's rows, whichever loop answers (as memcached); this
    // loop's own are brought up to date first, the others' are from their
    // last tick.
    publishConns(s.ctx);
    for (
      const c of s.ctx.counters.shared?.conns.rows() ?? s.ctx.conns.values()
    ) {
      rows.push([`${c.id}:addr`, c.addr]);
      if (c.state !== "conn_listening") {
        rows.push([
          `${c.id}:listen_addr`,
          c.listenAddr ??
            (c.addr.startsWith("unix:")
              ? `unix:${s.ctx.config.unixSocket}`
              : `tcp:${s.ctx.config.listen}:${s.ctx.config.port}`),
        ]);
      }
      rows.push(
        [`${c.id}:state`, c.state],
        [`${c.id}:secs_since_last_cmd`, now - c.lastCmd],
      );
    }
    emit(s, rows);
  } else if (tokenIs(buf, t, 1, W.cachedump)) {
    if (s.ctx.config.disableDumping) reply(s, DUMP_OFF);
    else return cachedump(s, buf);
  } else reply(s, R.ERROR);
  return 0;
}

/**
 * `stats loops` (ours, not memcached's): per event loop of `-t N`, which
 * connections and commands it served. Loop 0 is the main thread's (its
 * epoll loop, TLS and the listeners only it serves); with one loop it is
 * the only one.
 */
export function loopRows(s: Session): Row[] {
  const rows: Row[] = [];
  loopCounters(s.ctx.counters).forEach((c, i) => {
    rows.push(
      [`loop_${i}:curr_connections`, c.curr_connections],
      [`loop_${i}:total_connections`, c.total_connections],
      [`loop_${i}:cmd_get`, c.cmd_get],
      [`loop_${i}:cmd_set`, c.cmd_set],
    );
  });
  return rows;
}

function cachedump(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (t.n < 4) {
    reply(s, BAD_LINE);
    return 0;
  }
  const id = parseUint32(buf, t.start[2], t.end[2]);
  const limit = parseUint32(buf, t.start[3], t.end[3]);
  if (Number.isNaN(id) || Number.isNaN(limit)) {
    reply(s, R.BAD_FORMAT);
    return 0;
  }
  if (id >= MAX_WIRE_CLASS) {
    reply(s, ILLEGAL_SLAB);
    return 0;
  }
  s.dump = { cls: id, limit, n: 0, bytes: 0, looked: 0, next: 0 };
  return dumpSlice(s);
}

/** Continues a sliced `stats cachedump` (`Session.dump`). */
export function dumpMore(s: Session): number {
  s.getMore = 0;
  return dumpSlice(s);
}

/**
 * One slice of a cachedump: at most {@link DUMP_SLICE} items looked at,
 * then PAUSE with {@link DUMP_MORE} until the walk, the limit or the 2 MiB
 * cap ends it. memcached walks the class's LRU from its most recent item
 * under the LRU lock and stops at `limit` items or a 2 MiB reply, so
 * neither the time nor the reply grows with the cache; here the walk also
 * lets go of the loop between slices (70k lines took 20-30 ms at once).
 * Keys that would break the line framing are skipped, as memcached skips
 * binary keys.
 */
function dumpSlice(s: Session): number {
  const d = s.dump!;
  const store = s.ctx.store;
  const o = s.out;
  let stop = false;
  const next = store.lruWalk(
    d.cls,
    (h) => {
      const kl = store.keyLen(h);
      const kb = store.keyBytes(h);
      const ks = store.keyStart(h);
      for (let i = ks; i < ks + kl; i++) {
        const c = kb[i];
        if (c === 32 || c === 13 || c === 10 || c === 0) return true;
      }
      const vl = store.valueLen(h);
      const exp = store.expOf(h);
      const len = 5 + kl + 2 + digits(vl) + 4 + digits(exp) + 5;
      if (d.bytes + len + 6 > CACHEDUMP_MAX) {
        stop = true;
        return false;
      }
      putBytes(o, ITEM_);
      putRange(o, kb, ks, ks + kl);
      putBytes(o, BRACKET);
      putUint(o, vl);
      putBytes(o, B_);
      putUint(o, exp);
      putBytes(o, S_);
      d.bytes += len;
      if (++d.n === d.limit) stop = true;
      return !stop;
    },
    DUMP_SLICE,
    d.next,
  );
  d.looked += DUMP_SLICE;
  if (stop || next === 0 || d.looked >= CACHEDUMP_LOOK) {
    putBytes(o, R.END);
    s.dump = null;
    return 0;
  }
  d.next = next;
  s.getMore = DUMP_MORE;
  s.resumeAt = s.lineStart;
  return PAUSE;
}
