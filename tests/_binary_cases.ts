/**
 * Byte scripts of binary requests shared by the differential test (sent to
 * memcached 1.6.18 and to denocached) and the framing property tests. Each
 * script runs on a fresh connection after a flush; `closes` scripts end
 * with the server hanging up.
 * @module
 */

import { cat, incrExtras, pkt, setExtras, u32be } from "./_binary.ts";

/** A named script: its packets and whether the server closes after them. */
export type BinScript = [name: string, bytes: Uint8Array, closes?: "closes"];

/** Opcodes, named as in protocol_binary.h. */
export const O = {
  get: 0x00,
  set: 0x01,
  add: 0x02,
  replace: 0x03,
  delete: 0x04,
  incr: 0x05,
  decr: 0x06,
  quit: 0x07,
  flush: 0x08,
  getq: 0x09,
  noop: 0x0a,
  version: 0x0b,
  getk: 0x0c,
  getkq: 0x0d,
  append: 0x0e,
  prepend: 0x0f,
  stat: 0x10,
  setq: 0x11,
  addq: 0x12,
  replaceq: 0x13,
  deleteq: 0x14,
  incrq: 0x15,
  decrq: 0x16,
  quitq: 0x17,
  flushq: 0x18,
  appendq: 0x19,
  prependq: 0x1a,
  verbosity: 0x1b,
  touch: 0x1c,
  gat: 0x1d,
  gatq: 0x1e,
  saslList: 0x20,
  saslAuth: 0x21,
  saslStep: 0x22,
  gatk: 0x23,
  gatkq: 0x24,
} as const;

const set = (
  key: string,
  value: string,
  flags = 0,
  exp = 0,
  op: number = O.set,
) => pkt({ op, key, extras: setExtras(flags, exp), value });
const get = (key: string, op: number = O.get, opaque = 0) =>
  pkt({ op, key, opaque });
const NO_CREATE = 0xffffffff;
const big = (n: number) => "x".repeat(n);

/** Every script of the differential suite. */
export const BIN_SCRIPTS: BinScript[] = [
  ["set/get", cat(set("k", "v", 7), get("k"))],
  [
    "set/getk/getq/getkq hit",
    cat(
      set("k", "vv", 1),
      get("k", O.getk, 1),
      get("k", O.getq, 2),
      get("k", O.getkq, 3),
    ),
  ],
  ["get/getk miss", cat(get("nope"), get("nope", O.getk, 9))],
  [
    "getq/getkq miss are silent",
    cat(
      get("nope", O.getq, 1),
      get("nope", O.getkq, 2),
      get("nope", O.getk, 3),
    ),
  ],
  [
    "opaque echoed",
    cat(
      pkt({
        op: O.set,
        key: "k",
        extras: setExtras(0, 0),
        value: "a",
        opaque: 0xdeadbeef,
      }),
      get("k", O.get, 0x01020304),
    ),
  ],
  [
    "setq silent, error loud",
    cat(set("k", "a", 0, 0, O.setq), set("k", "b", 0, 0, O.addq), get("k")),
  ],
  [
    "add existing / add new",
    cat(
      set("k", "a"),
      set("k", "b", 0, 0, O.add),
      set("n", "c", 0, 0, O.add),
      get("k"),
      get("n"),
    ),
  ],
  [
    "replace missing / existing",
    cat(
      set("r", "a", 0, 0, O.replace),
      set("k", "a"),
      set("k", "b", 3, 0, O.replace),
      get("k"),
    ),
  ],
  [
    "replaceq/addq",
    cat(
      set("k", "a"),
      set("k", "b", 0, 0, O.replaceq),
      set("k", "c", 0, 0, O.addq),
      get("k"),
    ),
  ],
  [
    "set with cas: match, mismatch, missing",
    cat(
      set("k", "a"),
      pkt({
        op: O.set,
        key: "k",
        extras: setExtras(0, 0),
        value: "b",
        cas: 999999n,
      }),
      pkt({
        op: O.set,
        key: "m",
        extras: setExtras(0, 0),
        value: "b",
        cas: 5n,
      }),
      get("k"),
    ),
  ],
  [
    "add with cas is a cas",
    cat(
      set("k", "a"),
      pkt({
        op: O.add,
        key: "k",
        extras: setExtras(0, 0),
        value: "b",
        cas: 12345n,
      }),
      pkt({
        op: O.add,
        key: "q",
        extras: setExtras(0, 0),
        value: "b",
        cas: 12345n,
      }),
    ),
  ],
  [
    "cas 2^64-1 matches nothing",
    cat(
      set("k", "a"),
      pkt({
        op: O.set,
        key: "k",
        extras: setExtras(0, 0),
        value: "b",
        cas: 0xffffffffffffffffn,
      }),
      get("k"),
    ),
  ],
  [
    "append/prepend",
    cat(
      set("k", "mid", 9),
      pkt({ op: O.append, key: "k", value: "-end" }),
      pkt({ op: O.prepend, key: "k", value: "start-" }),
      get("k"),
    ),
  ],
  [
    "appendq/prependq",
    cat(
      set("k", "m"),
      pkt({ op: O.appendq, key: "k", value: "e" }),
      pkt({ op: O.prependq, key: "k", value: "s" }),
      get("k"),
    ),
  ],
  [
    "append missing",
    cat(
      pkt({ op: O.append, key: "nope", value: "x" }),
      pkt({ op: O.prependq, key: "nope", value: "x" }),
    ),
  ],
  [
    "append with bad cas",
    cat(
      set("k", "a"),
      pkt({ op: O.append, key: "k", value: "x", cas: 424242n }),
      get("k"),
    ),
  ],
  [
    "delete hit/miss/quiet",
    cat(
      set("k", "a"),
      set("j", "b"),
      pkt({ op: O.delete, key: "k" }),
      pkt({ op: O.delete, key: "k" }),
      pkt({ op: O.deleteq, key: "j" }),
      pkt({ op: O.deleteq, key: "j" }),
      get("j"),
    ),
  ],
  [
    "delete with bad cas",
    cat(set("k", "a"), pkt({ op: O.delete, key: "k", cas: 77777n }), get("k")),
  ],
  [
    "incr create, incr, decr",
    cat(
      pkt({ op: O.incr, key: "n", extras: incrExtras(5n, 10n, 0) }),
      pkt({ op: O.incr, key: "n", extras: incrExtras(5n, 10n, 0) }),
      pkt({ op: O.decr, key: "n", extras: incrExtras(100n, 0n, 0) }),
      get("n"),
    ),
  ],
  [
    "incr no-create miss",
    cat(
      pkt({ op: O.incr, key: "n", extras: incrExtras(1n, 0n, NO_CREATE) }),
      pkt({ op: O.decr, key: "n", extras: incrExtras(1n, 0n, NO_CREATE) }),
    ),
  ],
  [
    "incr wraps at 2^64",
    cat(
      set("n", "18446744073709551615"),
      pkt({ op: O.incr, key: "n", extras: incrExtras(2n, 0n, 0) }),
      get("n"),
    ),
  ],
  [
    "incr big delta",
    cat(
      set("n", "1"),
      pkt({
        op: O.incr,
        key: "n",
        extras: incrExtras(0xfffffffffffffffen, 0n, 0),
      }),
    ),
  ],
  [
    "incr non-numeric",
    cat(
      set("n", "abc"),
      pkt({ op: O.incr, key: "n", extras: incrExtras(1n, 0n, 0) }),
      set("e", ""),
      pkt({ op: O.incr, key: "e", extras: incrExtras(1n, 0n, 0) }),
    ),
  ],
  [
    "incr quiet",
    cat(
      pkt({ op: O.incrq, key: "n", extras: incrExtras(1n, 7n, 0) }),
      pkt({ op: O.decrq, key: "n", extras: incrExtras(1n, 7n, 0) }),
      get("n"),
    ),
  ],
  [
    "incr with bad cas",
    cat(
      set("n", "5"),
      pkt({ op: O.incr, key: "n", extras: incrExtras(1n, 0n, 0), cas: 31337n }),
      get("n"),
    ),
  ],
  [
    "incr keeps flags",
    cat(
      set("n", "5", 42),
      pkt({ op: O.incr, key: "n", extras: incrExtras(1n, 0n, 0) }),
      get("n"),
    ),
  ],
  [
    "touch/gat/gatk hit and miss",
    cat(
      set("k", "a", 3),
      pkt({ op: O.touch, key: "k", extras: u32be(100) }),
      pkt({ op: O.gat, key: "k", extras: u32be(100) }),
      pkt({ op: O.gatk, key: "k", extras: u32be(100) }),
      pkt({ op: O.touch, key: "m", extras: u32be(100) }),
      pkt({ op: O.gat, key: "m", extras: u32be(100) }),
      pkt({ op: O.gatk, key: "m", extras: u32be(100) }),
    ),
  ],
  [
    "gatq/gatkq",
    cat(
      set("k", "a"),
      pkt({ op: O.gatq, key: "k", extras: u32be(0) }),
      pkt({ op: O.gatkq, key: "k", extras: u32be(0) }),
      pkt({ op: O.gatq, key: "m", extras: u32be(0) }),
      pkt({ op: O.gatkq, key: "m", extras: u32be(0) }),
    ),
  ],
  ["set exptime in the past (absolute)", cat(set("k", "a", 0, 1000), get("k"))],
  ["set exptime 0xffffffff", cat(set("k", "a", 0, 0xffffffff), get("k"))],
  [
    "flush, flushq",
    cat(
      set("k", "a"),
      pkt({ op: O.flush }),
      get("k"),
      set("k", "b"),
      pkt({ op: O.flushq }),
      get("k"),
    ),
  ],
  [
    "flush with delay",
    cat(set("k", "a"), pkt({ op: O.flush, extras: u32be(1000) }), get("k")),
  ],
  [
    "flush bad extlen",
    cat(pkt({ op: O.flush, extras: new Uint8Array(2) }), get("k")),
    "closes",
  ],
  [
    "noop, version",
    cat(pkt({ op: O.noop, opaque: 4 }), pkt({ op: O.version, opaque: 5 })),
  ],
  ["version with a key", cat(pkt({ op: O.version, key: "x" })), "closes"],
  ["noop with body", pkt({ op: O.noop, value: "zz" }), "closes"],
  ["unknown opcode", cat(pkt({ op: 0x50 }), get("k"))],
  [
    "unknown opcode with body swallows bodylen",
    cat(
      pkt({ op: 0x50, value: "abcd" }),
      pkt({ op: O.noop, opaque: 1 }),
      pkt({ op: O.noop, opaque: 2 }),
    ),
  ],
  [
    // 1.6.18 has no Verbosity case: Unknown command, and (like every
    // unknown opcode) it swallows bodylen bytes past its extras, so four
    // filler bytes keep the stream in step.
    "verbosity is unknown",
    cat(
      pkt({ op: O.verbosity, extras: u32be(1) }),
      new Uint8Array(4),
      pkt({ op: O.noop, opaque: 3 }),
    ),
  ],
  [
    "sasl without -S",
    cat(
      pkt({ op: O.saslList }),
      pkt({ op: O.saslAuth, key: "PLAIN", value: "\0u\0p" }),
      pkt({ op: O.saslStep, key: "PLAIN", value: "x" }),
      pkt({ op: O.noop, opaque: 1 }),
    ),
  ],
  ["quit", cat(pkt({ op: O.quit, opaque: 3 }), get("k")), "closes"],
  ["quitq", cat(pkt({ op: O.quitq }), get("k")), "closes"],
  [
    // memcached also drops replies to earlier requests of the same read
    // when it closes on bad magic; we send them (see the README), so these
    // scripts hold the bad packet alone.
    "bad magic",
    pkt({ op: O.get, key: "k", magic: 0x81 }),
    "closes",
  ],
  [
    "key+extras longer than body",
    pkt({ op: O.get, key: "abc", bodylen: 2 }),
    "closes",
  ],
  ["get with body > key", pkt({ op: O.get, key: "abc", value: "x" }), "closes"],
  ["get without key", pkt({ op: O.get }), "closes"],
  ["set without extras", pkt({ op: O.set, key: "k", value: "v" }), "closes"],
  [
    "set short extras",
    pkt({ op: O.set, key: "k", extras: new Uint8Array(4), value: "v" }),
    "closes",
  ],
  [
    "incr short extras",
    pkt({ op: O.incr, key: "k", extras: new Uint8Array(8) }),
    "closes",
  ],
  [
    "delete with extras",
    pkt({ op: O.delete, key: "k", extras: u32be(0) }),
    "closes",
  ],
  ["touch without extras", pkt({ op: O.touch, key: "k" }), "closes"],
  [
    "key of 250 bytes",
    cat(set("a".repeat(250), "v"), get("a".repeat(250), O.getk)),
  ],
  ["key of 251 bytes", cat(set("a".repeat(251), "v")), "closes"],
  ["get key of 251 bytes", get("b".repeat(251)), "closes"],
  [
    "value over -I is E2BIG and swallowed",
    cat(
      set("k", "old"),
      set("k", big(1024 * 1024 + 10)),
      get("k"),
      set("j", big(1024 * 1024 + 10), 0, 0, O.add),
      get("j"),
    ),
  ],
  [
    "value at the item limit",
    cat(set("k", big(1024 * 1024 - 100)), pkt({ op: O.getk, key: "zz" })),
  ],
  ["binary values with CRLF and NUL", cat(set("k", "a\r\nb\0c\r\n"), get("k"))],
  ["flags max", cat(set("k", "v", 0xffffffff), get("k"))],
  ["stat unknown group", pkt({ op: O.stat, key: "nope" })],
  ["stat conns is not binary", pkt({ op: O.stat, key: "conns" })],
  ["stat reset", pkt({ op: O.stat, key: "reset" })],
  ["stat sizes", pkt({ op: O.stat, key: "sizes" })],
  [
    "stat detail on/off/bad",
    cat(
      pkt({ op: O.stat, key: "detail on" }),
      pkt({ op: O.stat, key: "detail off" }),
      pkt({ op: O.stat, key: "detail x" }),
    ),
  ],
  ["stat with extras", pkt({ op: O.stat, extras: u32be(0) }), "closes"],
  [
    "quiet run flushed by noop",
    cat(
      set("a", "1", 0, 0, O.setq),
      set("b", "2", 0, 0, O.setq),
      get("a", O.getkq),
      get("b", O.getkq),
      get("c", O.getkq),
      pkt({ op: O.deleteq, key: "a" }),
      pkt({ op: O.deleteq, key: "zz" }),
      pkt({ op: O.noop, opaque: 77 }),
    ),
  ],
  [
    "large pipeline",
    cat(
      ...Array.from(
        { length: 200 },
        (_, i) => set(`k${i}`, `v${i}`, 0, 0, O.setq),
      ),
      ...Array.from({ length: 200 }, (_, i) => get(`k${i}`, O.getkq, i)),
    ),
  ],
];
