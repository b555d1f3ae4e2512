/**
 * The byte scripts of meta_diff_test.ts for mg and ms (md, ma, mn, me are in
 * _meta_diff_cases_mod.ts): each case builds its steps from a key of its own
 * (and that key in base64), so cases never share items.
 * @module
 */

/** One step of a script: its text, given the replies of earlier steps. */
export type Step = string | ((prev: string) => string);
/** A named script: steps sent in order on one connection, built per key. */
export type Case = [name: string, build: (k: string, b: string) => Step[]];

/** The last cas (` c<n>`) in a reply. */
export const lastCas = (r: string) =>
  [...r.matchAll(/ c(\d+)/g)].at(-1)?.[1] ?? "0";
/** `n` copies of `ch`. */
export const long = (n: number, ch = "x") => ch.repeat(n);

const SEVENTEEN = "s v f t c k h l u q O1 P1 L1 F1 C1 I MS";

/** mg: every flag, both reply kinds, and its errors. */
export const MG: Case[] = [
  [
    "miss",
    (k) => [`mg ${k}\r\nmg ${k} v\r\nmg ${k} k O123 v s t\r\nmg ${k} Oa k\r\n`],
  ],
  ["hit HD", (k) => [`set ${k} 5 0 2\r\nhi\r\nmg ${k}\r\nmg ${k} s f\r\n`]],
  ["hit all flags", (k) => [
    `set ${k} 5 0 2\r\nhi\r\nmg ${k} s v f t c k O1 h l\r\nmg ${k} h l v\r\nmg ${k} u h\r\n`,
  ]],
  [
    "flag order",
    (k) => [`set ${k} 1 0 1\r\na\r\nmg ${k} O9 c f k s v\r\nmg ${k} k f c\r\n`],
  ],
  [
    "first byte only",
    (k) => [`set ${k} 1 0 1\r\na\r\nmg ${k} kxyz sabc vv ffoo\r\n`],
  ],
  ["quiet miss", (k) => [`mg ${k} q\r\nmg ${k} q k O1 v\r\nmn\r\n`]],
  [
    "quiet hit",
    (k) => [`set ${k} 0 0 1\r\na\r\nmg ${k} q v\r\nmg ${k} q\r\nmn\r\n`],
  ],
  ["ttl none", (k) => [`ms ${k} 2\r\nhi\r\nmg ${k} t v\r\n`]],
  ["T position", (k) => [
    `ms ${k} 2 T100\r\nhi\r\nmg ${k} t T5000\r\nmg ${k} t\r\nmg ${k} T300 t\r\nmg ${k} t T5 t\r\n`,
  ]],
  ["T expired", (k) => [`ms ${k} 2\r\nhi\r\nmg ${k} T-1 v\r\nmg ${k} t\r\n`]],
  ["T zero", (k) => [`ms ${k} 2 T100\r\nhi\r\nmg ${k} T0 t\r\nmg ${k} t\r\n`]],
  ["T negative", (k) => [`ms ${k} 2\r\nhi\r\nmg ${k} T-1 v\r\nmg ${k} v\r\n`]],
  ["vivify", (k) => [
    `mg ${k} N30 t v c\r\nmg ${k} v t\r\nmg ${k} N30 v\r\nmg ${k} h\r\nget ${k}\r\n`,
  ]],
  [
    "vivify order",
    (k) => [`mg ${k} t N100 s\r\nmg ${k} t\r\nmg ${k}y N100 t v\r\n`],
  ],
  ["vivify quiet", (k) => [`mg ${k} N30 q\r\nmg ${k} q\r\nmn\r\n`]],
  [
    "vivify then set",
    (k) => [`mg ${k} N30\r\nms ${k} 2\r\nhi\r\nmg ${k} v\r\n`],
  ],
  ["recache", (k) => [
    `ms ${k} 2 T10\r\nhi\r\nmg ${k} R30 v\r\nmg ${k} R30 v\r\nmg ${k} v\r\n`,
  ]],
  [
    "recache above",
    (k) => [`ms ${k} 2 T100\r\nhi\r\nmg ${k} R30 v\r\nmg ${k} R0\r\n`],
  ],
  ["recache immortal", (k) => [`ms ${k} 2\r\nhi\r\nmg ${k} R30 v\r\n`]],
  [
    "P L ignored",
    (k) => [`ms ${k} 2\r\nhi\r\nmg ${k} Pfoo Lbar v\r\nmg ${k} P L\r\n`],
  ],
  [
    "set-only flags ignored",
    (k) => [`ms ${k} 2\r\nhi\r\nmg ${k} F5 C1 I MX J1 D1 v\r\n`],
  ],
  ["17 flags", (k) => [`ms ${k} 2\r\nhi\r\nmg ${k} ${SEVENTEEN}\r\n`]],
  [
    "18 flags",
    (k) => [`mg ${k} ${SEVENTEEN} N1\r\nmg ${k} ${long(30, "v ")}\r\n`],
  ],
  ["duplicate", (k) => [`mg ${k} v v\r\nmg ${k} k s k\r\nmg ${k} O1 O2\r\n`]],
  [
    "invalid",
    (k) => [`mg ${k} x\r\nmg ${k} E\r\nmg ${k} S1\r\nmg ${k} noreply\r\n`],
  ],
  ["high byte", (k) => [`mg ${k} \x80\r\nmg ${k} v \xff\r\n`]],
  ["bad tokens", (k) => [
    `mg ${k} Tabc\r\nmg ${k} N\r\nmg ${k} R1x\r\nmg ${k} C-1\r\nmg ${k} Cx\r\n`,
  ]],
  [
    "bad numbers",
    (k) => [`mg ${k} Fabc\r\nmg ${k} F-1\r\nmg ${k} J-1\r\nmg ${k} Dx\r\n`],
  ],
  ["M length", (k) => [`mg ${k} M\r\nmg ${k} Mxx\r\nmg ${k} MX\r\n`]],
  ["error precedence", (k) => [
    `mg ${k} Tx v v\r\nmg ${k} Tx Fx\r\nmg ${k} Fx Tx\r\nmg ${k} Tx x\r\nmg ${k} Tx J-1\r\n`,
  ]],
  ["opaque length", (k) => [
    `mg ${k} O${long(31)}\r\nmg ${k} O${long(32)}\r\nms ${k} 1\r\na\r\n` +
    `mg ${k} O${long(31)} v\r\nmg ${k} O${long(32)} v\r\nmg ${k} q O${
      long(32)
    }\r\n`,
  ]],
  ["opaque error keeps T", (k) => [
    `ms ${k} 1\r\na\r\nmg ${k} T100 O${long(40)}\r\nmg ${k} t\r\n`,
  ]],
  [
    "key length",
    () => [`mg ${long(250, "a")} k\r\nmg ${long(251, "a")} v\r\n`],
  ],
  ["no key", () => [`mg\r\nmg \r\n`]],
  ["base64 key", (k, b) => [
    `ms ${b} 2 b\r\nhi\r\nmg ${b} b k v\r\nmg ${k} k v\r\nget ${k}\r\nmg ${b} b\r\n`,
  ]],
  ["base64 miss", (_k, b) => [`mg ${b} b k O1\r\nmg ${b} k b\r\n`]],
  ["base64 plain item", (k, b) => [`set ${k} 0 0 1\r\na\r\nmg ${b} b k v\r\n`]],
  ["base64 vivify", (_k, b) => [`mg ${b} b N30 k v\r\nmg ${b} b k\r\n`]],
  [
    "base64 bad",
    () => [`mg !!!! b\r\nmg abc b\r\nmg A=== b\r\nmg ==== b v\r\n`],
  ],
  [
    "base64 junk skipped",
    (k, b) => [`ms ${b} 1 b\r\na\r\nmg ${b}.. b k v\r\nmg ${k} v\r\n`],
  ],
  ["unknown m command", () => [`mx foo\r\nmgg foo\r\nm foo\r\n`]],
];

/** ms: modes, flags, cas, invalidation and errors (with or without swallow). */
export const MS: Case[] = [
  ["basic", (k) => [`ms ${k} 2\r\nhi\r\nmg ${k} v f t\r\nget ${k}\r\n`]],
  ["quiet", (k) => [`ms ${k} 2 q\r\nhi\r\nms ${k} 2 q ME\r\nhi\r\nmn\r\n`]],
  ["return flags", (k) => [`ms ${k} 2 c k O9\r\nhi\r\n`]],
  [
    "return flags order",
    (k) => [`ms ${k} 2 O1 k c s v t f\r\nhi\r\nms ${k} 2 c O2\r\nhi\r\n`],
  ],
  [
    "client flags ttl",
    (k) => [`ms ${k} 2 F123 T100\r\nhi\r\nmg ${k} f t v\r\ngets ${k}\r\n`],
  ],
  ["modes", (k) => [
    `ms ${k} 2 ME\r\nhi\r\nms ${k} 2 ME c\r\nhi\r\nms ${k} 2 MA\r\n!!\r\n` +
    `ms ${k} 2 MP\r\n<<\r\nmg ${k} v\r\nms ${k} 2 MS\r\nok\r\nmg ${k} v\r\n`,
  ]],
  ["modes on missing", (k) => [
    `ms ${k} 2 MR c\r\nhi\r\nms ${k} 2 MA\r\nhi\r\nms ${k} 2 MP\r\nhi\r\n` +
    `ms ${k} 2 MR\r\nhi\r\nms ${k} 2 ME\r\nhi\r\nms ${k} 2 MR\r\nyo\r\nmg ${k} v\r\n`,
  ]],
  [
    "append keeps flags ttl",
    (
      k,
    ) => [
      `ms ${k} 2 F7 T100\r\nhi\r\nms ${k} 1 MA F9 T5\r\n!\r\nmg ${k} f t v\r\n`,
    ],
  ],
  [
    "bad mode",
    (
      k,
    ) => [
      `ms ${k} 2 MX\r\nhi\r\nms ${k} 2 Ms\r\nhi\r\nms ${k} 2 MEE\r\nhi\r\nms ${k} 2 M\r\nhi\r\nmn\r\n`,
    ],
  ],
  ["cas", (k) => [
    `ms ${k} 2 C99999999\r\nhi\r\nms ${k} 2 c\r\nhi\r\n`,
    (p) =>
      `ms ${k} 2 C${lastCas(p)} c\r\nxx\r\nms ${k} 2 C${lastCas(p)}\r\nyy\r\n`,
    `ms ${k} 2 C0\r\nzz\r\nmg ${k} v\r\n`,
  ]],
  ["cas replace append", (k) => [
    `ms ${k} 2 c\r\nhi\r\n`,
    (p) =>
      `ms ${k} 1 MA C${lastCas(p)} c\r\n!\r\nms ${k} 1 MA C${
        lastCas(p)
      }\r\n?\r\nms ${k} 1 MA C0\r\n0\r\n`,
    (p) =>
      `ms ${k} 2 MR C${
        lastCas(p)
      } c\r\nRR\r\nms ${k} 2 ME C1\r\nEE\r\nmg ${k} v\r\n`,
  ]],
  [
    "cas add missing",
    (k) => [`ms ${k} 2 ME C5\r\nhi\r\nmg ${k} v\r\nms ${k}x 2 MA C5\r\nhi\r\n`],
  ],
  ["invalidate store", (k) => [
    `ms ${k} 2 T100\r\nhi\r\nmd ${k} I\r\nmg ${k} v c\r\nms ${k} 3 I C1 T5\r\nnew\r\n` +
    `mg ${k} v t\r\nmg ${k} v\r\nms ${k} 3 I\r\nnew\r\nmg ${k} v\r\n`,
  ]],
  ["invalidate store win reset", (k) => [
    `ms ${k} 2\r\nhi\r\nmd ${k} I\r\nms ${k} 3 I C1\r\nnew\r\nmg ${k} v\r\nmg ${k} v\r\n`,
  ]],
  ["invalidate matching cas", (k) => [
    `ms ${k} 2 c\r\nhi\r\n`,
    (p) => `ms ${k} 2 I C${lastCas(p)}\r\nyo\r\nmg ${k} v\r\n`,
  ]],
  [
    "invalidate newer cas",
    (
      k,
    ) => [
      `ms ${k} 2\r\nhi\r\nms ${k} 2 I C99999999\r\nyo\r\nms ${k} 2 I C0\r\nyo\r\n`,
    ],
  ],
  [
    "base64",
    (k, b) => [`ms ${b} 2 b k c\r\nhi\r\nget ${k}\r\nme ${b} b\r\nme ${k}\r\n`],
  ],
  [
    "base64 append",
    (
      k,
      b,
    ) => [
      `ms ${b} 1 b\r\na\r\nms ${b} 1 b MA k\r\nb\r\nmg ${k} k v\r\nme ${k}\r\n`,
    ],
  ],
  ["base64 bad swallows", () => [`ms !!!! 2 b\r\nhi\r\nmn\r\n`]],
  ["no datalen", (k) => [`ms ${k}\r\nms\r\nmn\r\n`]],
  [
    "bad datalen",
    (
      k,
    ) => [
      `ms ${k} abc\r\nhi\r\nms ${k} -1\r\nhi\r\nms ${k} S100\r\nhi\r\nms ${k} 2x\r\nhi\r\n`,
    ],
  ],
  ["datalen plus", (k) => [`ms ${k} +2\r\nhi\r\nmg ${k} v\r\n`]],
  [
    "too long key",
    () => [`ms ${long(251, "a")} 2\r\nhi\r\nms ${long(250, "a")} 2\r\nhi\r\n`],
  ],
  [
    "too many flags",
    (
      k,
    ) => [
      `ms ${k} 2 ${long(17, "v ")}\r\nhi\r\nms ${k} 2 ${
        SEVENTEEN.replace("C1 ", "")
      }\r\nhi\r\n`,
    ],
  ],
  ["flag errors swallow", (k) => [
    `ms ${k} 2 v v\r\nhi\r\nms ${k} 2 x\r\nhi\r\nms ${k} 2 Tx\r\nhi\r\nms ${k} 2 Fx\r\nhi\r\n` +
    `ms ${k} 2 O${
      long(32)
    }\r\nhi\r\nms ${k} 2 Cx\r\nhi\r\nms ${k} 2 noreply\r\nhi\r\nmg ${k}\r\n`,
  ]],
  ["mode beats opaque", (k) => [`ms ${k} 2 O${long(40)} MX\r\nhi\r\nmn\r\n`]],
  [
    "bad chunk",
    (k) => [`ms ${k} 2\r\nhiX\r\nms ${k} 2 q\r\nhiXY\r\nmg ${k}\r\n`],
  ],
  ["empty value", (k) => [`ms ${k} 0\r\n\r\nmg ${k} v s\r\n`]],
  ["binary value", (k) => [`ms ${k} 4\r\n\r\n\x00\xff\r\nmg ${k} v\r\n`]],
  ["too large", (k) => [
    `ms ${k} 2\r\nhi\r\nms ${k} 1048577 T0\r\n${
      long(1048577)
    }\r\nmg ${k} v\r\n` +
    `ms ${k} 2\r\nhi\r\nms ${k} 1048577 ME q\r\n${
      long(1048577)
    }\r\nmg ${k} v\r\n`,
  ]],
  ["largest value", (k) => {
    const max = 1048576 - 59 - k.length; // item limit less header and key
    return [
      `ms ${k} ${max}\r\n${long(max)}\r\nmg ${k} s\r\n` +
      `ms ${k} ${max + 1} c\r\n${long(max + 1)}\r\nmg ${k} s\r\n` +
      `ms ${k} ${max} F1\r\n${long(max)}\r\nmg ${k} s\r\n` +
      `ms ${k} ${max - 4} F1\r\n${long(max - 4)}\r\nmg ${k} s f\r\n`,
    ];
  }],
  [
    "classic reads meta",
    (
      k,
    ) => [
      `ms ${k} 3 F42 T0\r\nabc\r\nget ${k}\r\ngets ${k}\r\nappend ${k} 0 0 1\r\nd\r\nmg ${k} v f\r\n`,
    ],
  ],
  [
    "meta reads classic",
    (k) => [`set ${k} 7 0 2\r\nhi\r\nmg ${k} v f s\r\nincr ${k} 1\r\n`],
  ],
];
