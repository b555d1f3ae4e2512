/**
 * The status page served at `GET /`: one self-contained HTML document
 * (inline CSS and JS, canvas charts, no CDN, no build step) that polls
 * `/stats.json` once a second and draws the last two minutes. The grid
 * reflows from one column on a phone to four on a wall screen, and the
 * type scales with the viewport width.
 *
 * The script is kept free of backticks and `${` so it can live in this
 * template literal unescaped.
 * @module
 */

/** The page. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>denocached status</title>
<style>
:root { --bg:#0f1419; --panel:#182029; --line:#2a3541; --fg:#e6edf3; --dim:#8b98a5;
  --ok:#3fb950; --warn:#d29922; --bad:#f85149; }
* { box-sizing: border-box; }
html { font-size: clamp(14px, 0.55vw + 10px, 26px); }
body { margin: 0; background: var(--bg); color: var(--fg);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .4rem 1.2rem;
  padding: .8rem 1rem; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.35rem; margin: 0; }
header .meta { color: var(--dim); font-size: .9rem; }
.pill { padding: .1rem .6rem; border-radius: 1rem; font-size: .85rem; font-weight: 600;
  background: var(--line); }
.pill.ok { background: #1f3d2a; color: var(--ok); }
.pill.bad { background: #47201f; color: var(--bad); }
main { padding: .8rem; display: grid; gap: .8rem; }
.tiles { display: grid; gap: .6rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 7.5rem), 1fr)); }
.tile { background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: .55rem .7rem; }
.tile .k { color: var(--dim); font-size: .8rem; }
.tile .v { font-size: 1.3rem; overflow: hidden; text-overflow: ellipsis; font-weight: 650; font-variant-numeric: tabular-nums; white-space: nowrap; }
.charts { display: grid; gap: .8rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 24rem), 1fr)); }
.chart { background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: .55rem .7rem; min-width: 0; }
.chart h2 { font-size: .95rem; margin: 0 0 .3rem; font-weight: 600; }
.chart canvas { width: 100%; height: 11rem; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: .2rem .8rem; font-size: .78rem; color: var(--dim); min-height: 1.1rem; }
.legend i { display: inline-block; width: .7rem; height: .7rem; border-radius: .15rem; margin-right: .3rem; vertical-align: -.05rem; }
details { background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: .55rem .7rem; }
summary { cursor: pointer; font-weight: 600; }
table { border-collapse: collapse; font-size: .8rem; width: 100%; margin-top: .4rem; }
td { padding: .15rem .4rem; border-bottom: 1px solid var(--line); word-break: break-all; }
td:first-child { color: var(--dim); width: 45%; }
.cols { columns: 3 18rem; }
#err { color: var(--bad); font-size: .85rem; }
</style>
</head>
<body>
<header>
  <h1>denocached</h1>
  <span class="pill" id="state">connecting…</span>
  <span class="meta" id="meta"></span>
  <span id="err"></span>
</header>
<main>
  <section class="tiles" id="tiles"></section>
  <section class="charts" id="charts"></section>
  <details><summary>Settings</summary><div class="cols"><table id="settings"></table></div></details>
</main>
<script>
"use strict";
var HISTORY = 120, POLL_MS = 1000;
var COLORS = ["#58a6ff", "#3fb950", "#d29922", "#f85149", "#bc8cff", "#39c5cf", "#ff7b72", "#8b98a5"];
var TILES = [["ops", "ops/s"], ["hit", "hit ratio"], ["mem", "item memory"], ["items", "items"],
  ["conns", "connections"], ["evict", "evictions/s"], ["p99", "p99 latency"], ["rss", "process RSS"]];
var CHARTS = [
  ["ops", "Operations per second, by command", "num"],
  ["hit", "Hit ratio (get hits / gets)", "pct"],
  ["mem", "Item memory vs limit (-m)", "bytes"],
  ["items", "Items", "num"],
  ["evict", "Evictions and expirations per second", "num"],
  ["conns", "Connections", "num"],
  ["lat", "Latency percentiles (server time)", "secs"],
  ["net", "Network bytes per second", "bytes"]
];
var hist = {}, prev = null, charts = {};

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmtNum(v) {
  if (!isFinite(v)) return "–";
  var a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100 || v === Math.round(v)) return String(Math.round(v));
  return v.toFixed(2);
}
function fmtBytes(v) {
  if (!isFinite(v)) return "–";
  var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
  while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(Math.round(v)) : v.toFixed(1)) + " " + u[i];
}
function fmtSecs(v) {
  if (!isFinite(v)) return "–";
  if (v >= 1) return v.toFixed(2) + " s";
  if (v >= 1e-3) return (v * 1e3).toFixed(2) + " ms";
  return (v * 1e6).toFixed(1) + " µs";
}
function fmtPct(v) { return isFinite(v) ? (v * 100).toFixed(1) + "%" : "–"; }
var FMT = { num: fmtNum, bytes: fmtBytes, secs: fmtSecs, pct: fmtPct };
function fmtUptime(s) {
  var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}

function setup() {
  var tiles = document.getElementById("tiles");
  TILES.forEach(function (t) {
    var d = el("div", "tile"); d.appendChild(el("div", "k", t[1]));
    var v = el("div", "v", "–"); v.id = "tile-" + t[0]; d.appendChild(v); tiles.appendChild(d);
  });
  var box = document.getElementById("charts");
  CHARTS.forEach(function (c) {
    var d = el("div", "chart"); d.appendChild(el("h2", "", c[1]));
    var cv = el("canvas"); cv.id = "chart-" + c[0]; cv.dataset.points = "0"; d.appendChild(cv);
    var lg = el("div", "legend"); d.appendChild(lg); box.appendChild(d);
    charts[c[0]] = { canvas: cv, legend: lg, fmt: FMT[c[2]], kind: c[2], series: [] };
  });
  window.addEventListener("resize", drawAll);
}

function push(key, v) {
  var a = hist[key] || (hist[key] = []);
  a.push(v);
  if (a.length > HISTORY) a.shift();
}
function series(key) { return hist[key] || []; }

function percentile(counts, bounds, q) {
  var total = 0, i;
  for (i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return NaN;
  var want = q * total, cum = 0;
  for (i = 0; i < counts.length; i++) {
    if (cum + counts[i] >= want) {
      var lo = i === 0 ? 0 : bounds[i - 1];
      var hi = i < bounds.length ? bounds[i] : bounds[bounds.length - 1] * 2;
      return lo + (hi - lo) * ((want - cum) / counts[i]);
    }
    cum += counts[i];
  }
  return bounds[bounds.length - 1];
}

function ingest(j) {
  var s = j.stats, d = j.denocached, now = Date.now();
  var st = document.getElementById("state");
  st.textContent = d.draining ? "draining" : "accepting";
  st.className = "pill " + (d.draining ? "bad" : "ok");
  document.getElementById("meta").textContent = "version " + s.version + " · " + d.listen +
    " · up " + fmtUptime(s.uptime) + " · pid " + s.pid + " · -m " + fmtBytes(s.limit_maxbytes) +
    " · -c " + s.max_connections;
  var lat = d.latency, names = Object.keys(lat.commands);
  if (prev) {
    var dt = Math.max(0.001, (now - prev.at) / 1000);
    var ops = {}, total = 0, agg = null;
    names.forEach(function (n) {
      var c = lat.commands[n], p = prev.lat.commands[n];
      var cnt = c.counts.reduce(function (x, y) { return x + y; }, 0);
      var pc = p ? p.counts.reduce(function (x, y) { return x + y; }, 0) : 0;
      var r = Math.max(0, cnt - pc) / dt; ops[n] = r; total += r;
      var delta = c.counts.map(function (v, i) { return Math.max(0, v - (p ? p.counts[i] : 0)); });
      if (!agg) agg = delta.slice(); else delta.forEach(function (v, i) { agg[i] += v; });
    });
    names.forEach(function (n) { push("ops:" + n, ops[n]); });
    push("ops:total", total);
    var dh = s.get_hits - prev.s.get_hits, dm = s.get_misses - prev.s.get_misses;
    push("hit", dh + dm > 0 ? dh / (dh + dm) : NaN);
    ["p50", "p90", "p99"].forEach(function (q) {
      push("lat:" + q, agg ? percentile(agg, lat.bounds, Number(q.slice(1)) / 100) : NaN);
    });
    push("evict", Math.max(0, s.evictions - prev.s.evictions) / dt);
    push("expire", Math.max(0, s.reclaimed - prev.s.reclaimed) / dt);
    push("netin", Math.max(0, s.bytes_read - prev.s.bytes_read) / dt);
    push("netout", Math.max(0, s.bytes_written - prev.s.bytes_written) / dt);
  }
  push("bytes", s.bytes); push("limit", s.limit_maxbytes); push("rss", d.process.rss);
  push("items", s.curr_items); push("conns", s.curr_connections);
  prev = { at: now, s: s, lat: lat };
  renderSettings(j.settings);
  drawAll();
}

function last(key) { var a = series(key); return a.length ? a[a.length - 1] : NaN; }
function tiles() {
  var set = function (k, v) { document.getElementById("tile-" + k).textContent = v; };
  set("ops", fmtNum(last("ops:total"))); set("hit", fmtPct(last("hit")));
  set("mem", fmtPct(last("bytes") / last("limit")));
  document.getElementById("tile-mem").previousSibling.textContent = "memory of " + fmtBytes(last("limit"));
  set("items", fmtNum(last("items"))); set("conns", fmtNum(last("conns")));
  set("evict", fmtNum(last("evict"))); set("p99", fmtSecs(last("lat:p99")));
  set("rss", fmtBytes(last("rss")));
}

function opsSeries() {
  var keys = Object.keys(hist).filter(function (k) { return k.indexOf("ops:") === 0 && k !== "ops:total"; });
  var sum = function (k) { return series(k).reduce(function (a, b) { return a + b; }, 0); };
  keys = keys.filter(function (k) { return sum(k) > 0; }).sort(function (a, b) { return sum(b) - sum(a); });
  var out = keys.slice(0, 6).map(function (k) { return [k.slice(4), series(k)]; });
  if (out.length === 0) out.push(["total", series("ops:total")]);
  return out;
}

function drawAll() {
  tiles();
  draw("ops", opsSeries());
  draw("hit", [["hit ratio", series("hit")]], 1);
  draw("mem", [["items", series("bytes")], ["limit", series("limit")]]);
  draw("items", [["items", series("items")]]);
  draw("evict", [["evictions/s", series("evict")], ["expirations/s", series("expire")]]);
  draw("conns", [["connections", series("conns")]]);
  draw("lat", [["p50", series("lat:p50")], ["p90", series("lat:p90")], ["p99", series("lat:p99")]]);
  draw("net", [["in", series("netin")], ["out", series("netout")]]);
}

function draw(key, list, fixedMax) {
  var c = charts[key], cv = c.canvas, dpr = window.devicePixelRatio || 1;
  var w = cv.clientWidth, h = cv.clientHeight;
  if (w === 0 || h === 0) return;
  if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
    cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
  }
  var g = cv.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  var fs = parseFloat(getComputedStyle(document.documentElement).fontSize) * 0.72;
  g.font = fs + "px system-ui, sans-serif";
  var max = 0, n = 0;
  list.forEach(function (s) {
    s[1].forEach(function (v) { if (isFinite(v) && v > max) max = v; });
    n = Math.max(n, s[1].length);
  });
  if (fixedMax) max = fixedMax; else max = max > 0 ? max * 1.1 : 1;
  var left = g.measureText(c.fmt(max)).width + 8, top = fs * 0.8, bottom = h - fs * 0.6, right = w - 4;
  g.strokeStyle = "#2a3541"; g.fillStyle = "#8b98a5"; g.lineWidth = 1;
  for (var k = 0; k <= 3; k++) {
    var y = bottom - (bottom - top) * k / 3;
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    g.fillText(c.fmt(max * k / 3), 2, y + fs * 0.35);
  }
  var points = 0, span = Math.max(30, n);
  list.forEach(function (s, i) {
    var vals = s[1];
    g.strokeStyle = COLORS[i % COLORS.length]; g.lineWidth = 2; g.beginPath();
    var started = false;
    vals.forEach(function (v, j) {
      if (!isFinite(v)) { started = false; return; }
      var x = left + (right - left) * (span - vals.length + j) / (span - 1);
      var y = bottom - (bottom - top) * Math.min(v, max) / max;
      if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
      points++;
    });
    g.stroke();
  });
  cv.dataset.points = String(points);
  var names = list.map(function (s) { return s[0]; }).join("|");
  if (c.legend.dataset.names !== names) {
    c.legend.dataset.names = names; c.legend.textContent = "";
    list.forEach(function (s, i) {
      var span = el("span"); var dot = el("i"); dot.style.background = COLORS[i % COLORS.length];
      span.appendChild(dot); span.appendChild(document.createTextNode(s[0])); c.legend.appendChild(span);
    });
  }
}

var settingsShown = "";
function renderSettings(st) {
  var keys = Object.keys(st), sig = keys.map(function (k) { return k + "=" + st[k]; }).join(";");
  if (sig === settingsShown) return;
  settingsShown = sig;
  var t = document.getElementById("settings"); t.textContent = "";
  keys.forEach(function (k) {
    var tr = el("tr"); tr.appendChild(el("td", "", k)); tr.appendChild(el("td", "", String(st[k])));
    t.appendChild(tr);
  });
}

function poll() {
  fetch("stats.json", { cache: "no-store" }).then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }).then(function (j) {
    document.getElementById("err").textContent = "";
    ingest(j);
  }, function (e) {
    document.getElementById("err").textContent = "not reachable (" + e.message + ")";
    var st = document.getElementById("state"); st.textContent = "unreachable"; st.className = "pill bad";
  }).then(function () { setTimeout(poll, POLL_MS); });
}
setup();
poll();
</script>
</body>
</html>
`;
