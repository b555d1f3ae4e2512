/**
 * The Prometheus stand-in of `bench --metrics`: scrapes `/metrics` on
 * 127.0.0.1:PORT every MS milliseconds and prints a line per answered
 * scrape, until it is killed. It runs as its own process, pinned to the
 * load generator's CPU, because a real Prometheus runs elsewhere: scraping
 * from the bench's own (unpinned) process put the scraper's CPU on the
 * server's core in some windows, and the solo on/off ratios charged it to
 * `--metrics` (W2 solo 0.94 while the paired windows said 0.98).
 *
 * Usage: deno run --allow-net bench/scraper.ts PORT MS
 * @module
 */

const [port, ms] = Deno.args.map(Number);
if (!(port > 0) || !(ms > 0)) {
  console.error("usage: scraper.ts PORT MS");
  Deno.exit(64);
}
setInterval(async () => {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    await r.text();
    if (r.status === 200) console.log("scraped");
  } catch {
    // not up yet, or stopping
  }
}, ms);
