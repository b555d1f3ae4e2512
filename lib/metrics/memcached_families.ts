/**
 * The `memcached_*` families, exactly as memcached_exporter exposes them:
 * the same names, labels, types and the same mapping from `stats` fields
 * (including its quirks: `set` hits are `cmd_set` minus the cas commands,
 * `flush_all` counts as a `flush` hit, `evicted_time` is a counter), so
 * dashboards and alerts built on the exporter work against denocached
 * unchanged and without running it. Source: github.com/prometheus/
 * memcached_exporter, pkg/exporter/exporter.go. Fields denocached does not
 * print (`mem_requested`, `number_temp`, extstore, proxy) are left out, as
 * the exporter does when memcached does not print them.
 * @module
 */

import { byClass, type StatsGroups } from "./stats_groups.ts";
import { from, type Kind, num, sample, type Writer } from "./prom_writer.ts";

const OPS = ["get", "delete", "incr", "decr", "cas", "touch"] as const;
const H_COMMANDS =
  "Total number of all requests broken down by command (get, set, etc.) and status.";
const H_SLAB_COMMANDS =
  "Total number of all requests broken down by command (get, set, etc.) and status per slab.";

function general(w: Writer, s: Map<string, string>): void {
  const version = s.get("version") ?? "";
  sample(
    w,
    "memcached_version",
    "gauge",
    "The version of this memcached server.",
    1,
    {
      version,
    },
  );
  const cmd = "memcached_commands_total";
  for (const op of OPS) {
    from(w, s, `${op}_hits`, cmd, "counter", H_COMMANDS, {
      command: op,
      status: "hit",
    });
    from(w, s, `${op}_misses`, cmd, "counter", H_COMMANDS, {
      command: op,
      status: "miss",
    });
  }
  from(
    w,
    s,
    "uptime",
    "memcached_uptime_seconds",
    "counter",
    "Number of seconds since the server started.",
  );
  from(
    w,
    s,
    "time",
    "memcached_time_seconds",
    "gauge",
    "current UNIX time according to the server.",
  );
  from(w, s, "cas_badval", cmd, "counter", H_COMMANDS, {
    command: "cas",
    status: "badval",
  });
  from(w, s, "cmd_flush", cmd, "counter", H_COMMANDS, {
    command: "flush",
    status: "hit",
  });
  // memcached counts cas commands in cmd_set too; the exporter subtracts them.
  const set = num(s, "cmd_set");
  const cas = (num(s, "cas_misses") ?? 0) + (num(s, "cas_hits") ?? 0) +
    (num(s, "cas_badval") ?? 0);
  if (set !== null) {
    sample(w, cmd, "counter", H_COMMANDS, set - cas, {
      command: "set",
      status: "hit",
    });
  }
  const rows: [string, string, Kind, string][] = [
    [
      "rusage_user",
      "memcached_process_user_cpu_seconds_total",
      "counter",
      "Accumulated user time for this process.",
    ],
    [
      "rusage_system",
      "memcached_process_system_cpu_seconds_total",
      "counter",
      "Accumulated system time for this process.",
    ],
    [
      "bytes",
      "memcached_current_bytes",
      "gauge",
      "Current number of bytes used to store items.",
    ],
    [
      "limit_maxbytes",
      "memcached_limit_bytes",
      "gauge",
      "Number of bytes this server is allowed to use for storage.",
    ],
    [
      "curr_items",
      "memcached_current_items",
      "gauge",
      "Current number of items stored by this instance.",
    ],
    [
      "total_items",
      "memcached_items_total",
      "counter",
      "Total number of items stored during the life of this instance.",
    ],
    [
      "bytes_read",
      "memcached_read_bytes_total",
      "counter",
      "Total number of bytes read by this server from network.",
    ],
    [
      "bytes_written",
      "memcached_written_bytes_total",
      "counter",
      "Total number of bytes sent by this server to network.",
    ],
    [
      "curr_connections",
      "memcached_current_connections",
      "gauge",
      "Current number of open connections.",
    ],
    [
      "total_connections",
      "memcached_connections_total",
      "counter",
      "Total number of connections opened since the server started running.",
    ],
    [
      "rejected_connections",
      "memcached_connections_rejected_total",
      "counter",
      "Total number of connections rejected due to hitting the memcached's -c limit in maxconns_fast mode.",
    ],
    [
      "conn_yields",
      "memcached_connections_yielded_total",
      "counter",
      "Total number of connections yielded running due to hitting the memcached's -R limit.",
    ],
    [
      "listen_disabled_num",
      "memcached_connections_listener_disabled_total",
      "counter",
      "Number of times that memcached has hit its connections limit and disabled its listener.",
    ],
    [
      "evictions",
      "memcached_items_evicted_total",
      "counter",
      "Total number of valid items removed from cache to free memory for new items.",
    ],
    [
      "reclaimed",
      "memcached_items_reclaimed_total",
      "counter",
      "Total number of times an entry was stored using memory from an expired entry.",
    ],
    [
      "store_too_large",
      "memcached_item_too_large_total",
      "counter",
      "The number of times an item exceeded the max-item-size when being stored.",
    ],
    [
      "store_no_memory",
      "memcached_item_no_memory_total",
      "counter",
      "The number of times an item could not be stored due to no more memory.",
    ],
    [
      "lru_crawler_starts",
      "memcached_lru_crawler_starts_total",
      "counter",
      "Times an LRU crawler was started.",
    ],
    [
      "direct_reclaims",
      "memcached_direct_reclaims_total",
      "counter",
      "Times worker threads had to directly reclaim or evict items.",
    ],
    [
      "crawler_items_checked",
      "memcached_lru_crawler_items_checked_total",
      "counter",
      "Total items examined by LRU Crawler.",
    ],
    [
      "crawler_reclaimed",
      "memcached_lru_crawler_reclaimed_total",
      "counter",
      "Total items freed by LRU Crawler.",
    ],
    [
      "moves_to_cold",
      "memcached_lru_crawler_moves_to_cold_total",
      "counter",
      "Total number of items moved from HOT/WARM to COLD LRU's.",
    ],
    [
      "moves_to_warm",
      "memcached_lru_crawler_moves_to_warm_total",
      "counter",
      "Total number of items moved from COLD to WARM LRU.",
    ],
    [
      "moves_within_lru",
      "memcached_lru_crawler_moves_within_lru_total",
      "counter",
      "Total number of items reshuffled within HOT or WARM LRU's.",
    ],
    [
      "accepting_conns",
      "memcached_accepting_connections",
      "gauge",
      "The Memcached server is currently accepting new connections.",
    ],
  ];
  for (const [key, name, type, help] of rows) from(w, s, key, name, type, help);
}

function settings(w: Writer, st: Map<string, string>): void {
  from(
    w,
    st,
    "maxconns",
    "memcached_max_connections",
    "gauge",
    "Maximum number of clients allowed.",
  );
  if (st.get("lru_crawler") !== "yes") return;
  const bool = (key: string, name: string, help: string) => {
    const v = st.get(key);
    if (v === "yes" || v === "no") {
      sample(w, name, "gauge", help, v === "yes" ? 1 : 0);
    }
  };
  bool(
    "lru_crawler",
    "memcached_lru_crawler_enabled",
    "Whether the LRU crawler is enabled.",
  );
  from(
    w,
    st,
    "lru_crawler_sleep",
    "memcached_lru_crawler_sleep",
    "gauge",
    "Microseconds to sleep between LRU crawls.",
  );
  from(
    w,
    st,
    "lru_crawler_tocrawl",
    "memcached_lru_crawler_to_crawl",
    "gauge",
    "Max items to crawl per slab per run.",
  );
  bool(
    "lru_maintainer_thread",
    "memcached_lru_crawler_maintainer_thread",
    "Split LRU mode and background threads.",
  );
  from(
    w,
    st,
    "hot_lru_pct",
    "memcached_lru_crawler_hot_percent",
    "gauge",
    "Percent of slab memory reserved for HOT LRU.",
  );
  from(
    w,
    st,
    "warm_lru_pct",
    "memcached_lru_crawler_warm_percent",
    "gauge",
    "Percent of slab memory reserved for WARM LRU.",
  );
  from(
    w,
    st,
    "hot_max_factor",
    "memcached_lru_crawler_hot_max_factor",
    "gauge",
    "Set idle age of HOT LRU to COLD age * this",
  );
  from(
    w,
    st,
    "warm_max_factor",
    "memcached_lru_crawler_warm_max_factor",
    "gauge",
    "Set idle age of WARM LRU to COLD age * this",
  );
}

const ITEM_COUNTERS: [string, string, string][] = [
  [
    "crawler_reclaimed",
    "memcached_slab_items_crawler_reclaimed_total",
    "Number of items freed by the LRU Crawler.",
  ],
  [
    "evicted",
    "memcached_slab_items_evicted_total",
    "Total number of times an item had to be evicted from the LRU before it expired.",
  ],
  [
    "evicted_nonzero",
    "memcached_slab_items_evicted_nonzero_total",
    "Total number of times an item which had an explicit expire time set had to be evicted from the LRU before it expired.",
  ],
  [
    "evicted_time",
    "memcached_slab_items_evicted_time_seconds",
    "Seconds since the last access for the most recent item evicted from this class.",
  ],
  [
    "evicted_unfetched",
    "memcached_slab_items_evicted_unfetched_total",
    "Total nmber of items evicted and never fetched.",
  ],
  [
    "expired_unfetched",
    "memcached_slab_items_expired_unfetched_total",
    "Total number of valid items evicted from the LRU which were never touched after being set.",
  ],
  [
    "outofmemory",
    "memcached_slab_items_outofmemory_total",
    "Total number of items for this slab class that have triggered an out of memory error.",
  ],
  [
    "reclaimed",
    "memcached_slab_items_reclaimed_total",
    "Total number of items reclaimed.",
  ],
  [
    "tailrepairs",
    "memcached_slab_items_tailrepairs_total",
    "Total number of times the entries for a particular ID need repairing.",
  ],
  [
    "moves_to_cold",
    "memcached_slab_items_moves_to_cold",
    "Number of items moved from HOT or WARM into COLD.",
  ],
  [
    "moves_to_warm",
    "memcached_slab_items_moves_to_warm",
    "Number of items moves from COLD into WARM.",
  ],
  [
    "moves_within_lru",
    "memcached_slab_items_moves_within_lru",
    "Number of times active items were bumped within HOT or WARM.",
  ],
];
const ITEM_GAUGES: [string, string, string][] = [
  [
    "number_hot",
    "memcached_slab_hot_items",
    "Number of items presently stored in the HOT LRU.",
  ],
  [
    "number_warm",
    "memcached_slab_warm_items",
    "Number of items presently stored in the WARM LRU.",
  ],
  [
    "number_cold",
    "memcached_slab_cold_items",
    "Number of items presently stored in the COLD LRU.",
  ],
  [
    "number_temp",
    "memcached_slab_temporary_items",
    "Number of items presently stored in the TEMPORARY LRU.",
  ],
  [
    "age_hot",
    "memcached_slab_hot_age_seconds",
    "Age of the oldest item in HOT LRU.",
  ],
  [
    "age_warm",
    "memcached_slab_warm_age_seconds",
    "Age of the oldest item in HOT LRU.",
  ],
];
const LRUS: [string, string][] = [
  ["hits_to_hot", "hot"],
  ["hits_to_warm", "warm"],
  ["hits_to_cold", "cold"],
  ["hits_to_temp", "temporary"],
];
const SLAB_GAUGES: [string, string, string][] = [
  [
    "chunk_size",
    "memcached_slab_chunk_size_bytes",
    "Number of bytes allocated to each chunk within this slab class.",
  ],
  [
    "chunks_per_page",
    "memcached_slab_chunks_per_page",
    "Number of chunks within a single page for this slab class.",
  ],
  [
    "total_pages",
    "memcached_slab_current_pages",
    "Number of pages allocated to this slab class.",
  ],
  [
    "total_chunks",
    "memcached_slab_current_chunks",
    "Number of chunks allocated to this slab class.",
  ],
  [
    "used_chunks",
    "memcached_slab_chunks_used",
    "Number of chunks allocated to an item.",
  ],
  [
    "free_chunks",
    "memcached_slab_chunks_free",
    "Number of chunks not yet allocated items.",
  ],
  [
    "free_chunks_end",
    "memcached_slab_chunks_free_end",
    "Number of free chunks at the end of the last allocated page.",
  ],
  [
    "mem_requested",
    "memcached_slab_mem_requested_bytes",
    "Number of bytes of memory actual items take up within a slab.",
  ],
];

function classes(w: Writer, g: StatsGroups): void {
  for (const [slab, u] of byClass(g.items, "items:")) {
    const l = { slab };
    from(
      w,
      u,
      "number",
      "memcached_slab_current_items",
      "gauge",
      "Number of items currently stored in this slab class.",
      l,
    );
    from(
      w,
      u,
      "age",
      "memcached_slab_items_age_seconds",
      "gauge",
      "Number of seconds the oldest item has been in the slab class.",
      l,
    );
    for (const [key, lru] of LRUS) {
      from(
        w,
        u,
        key,
        "memcached_slab_lru_hits_total",
        "counter",
        "Number of get_hits to the LRU.",
        { slab, lru },
      );
    }
    for (const [key, name, help] of ITEM_COUNTERS) {
      from(w, u, key, name, "counter", help, l);
    }
    for (const [key, name, help] of ITEM_GAUGES) {
      from(w, u, key, name, "gauge", help, l);
    }
  }
  const name = "memcached_slab_commands_total";
  for (const [slab, v] of byClass(g.slabs, "")) {
    for (const op of OPS) {
      from(w, v, `${op}_hits`, name, "counter", H_SLAB_COMMANDS, {
        slab,
        command: op,
        status: "hit",
      });
    }
    from(w, v, "cas_badval", name, "counter", H_SLAB_COMMANDS, {
      slab,
      command: "cas",
      status: "badval",
    });
    const set = num(v, "cmd_set");
    if (set !== null) {
      const cas = (num(v, "cas_hits") ?? 0) + (num(v, "cas_badval") ?? 0);
      sample(w, name, "counter", H_SLAB_COMMANDS, set - cas, {
        slab,
        command: "set",
        status: "hit",
      });
    }
    for (const [key, n, help] of SLAB_GAUGES) {
      from(w, v, key, n, "gauge", help, { slab });
    }
  }
  from(
    w,
    g.slabs,
    "total_malloced",
    "memcached_malloced_bytes",
    "gauge",
    "Number of bytes of memory allocated to slab pages.",
  );
}

/** Adds every memcached_exporter family we can fill from `g`. */
export function memcachedFamilies(w: Writer, g: StatsGroups): void {
  sample(
    w,
    "memcached_up",
    "gauge",
    "Could the memcached server be reached.",
    1,
  );
  general(w, g.stats);
  settings(w, g.settings);
  classes(w, g);
}
