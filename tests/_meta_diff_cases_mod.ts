/**
 * The byte scripts of meta_diff_test.ts for md, ma, mn, me and odd corners.
 * @module
 */

import { type Case, lastCas, long } from "./_meta_diff_cases.ts";

/** md and ma. */
export const MDMA: Case[] = [
  ["ma growth drops marks", (k) => [
    `ms ${k} 1\r\n9\r\nmd ${k} I\r\nma ${k}\r\nmg ${k} h\r\n` +
    `ms ${k}y 2\r\n10\r\nmd ${k}y I\r\nma ${k}y\r\nmg ${k}y\r\n`,
  ]],
  ["md miss", (k) => [`md ${k}\r\nmd ${k} q\r\nmd ${k} k O1\r\nmn\r\n`]],
  [
    "md hit",
    (
      k,
    ) => [
      `ms ${k} 1\r\na\r\nmd ${k} k O1\r\nmg ${k}\r\nms ${k} 1\r\na\r\nmd ${k} q\r\nmn\r\nget ${k}\r\n`,
    ],
  ],
  ["md cas", (k) => [
    `ms ${k} 1 c\r\na\r\nmd ${k} C1\r\nmd ${k} C0\r\n`,
    (p) => `md ${k} C${lastCas(p)} q\r\nmg ${k}\r\n`,
  ]],
  ["md invalidate", (k) => [
    `ms ${k} 2 T100\r\nhi\r\nmd ${k} I T30\r\nmg ${k} v c t\r\nmg ${k} v t\r\nmg ${k} v\r\n` +
    `md ${k} I q\r\nmg ${k} v\r\nms ${k} 2\r\nok\r\nmg ${k} v\r\n`,
  ]],
  [
    "md invalidate after vivify",
    (k) => [`mg ${k} N30\r\nmg ${k}\r\nmd ${k} I\r\nmg ${k}\r\nmg ${k}\r\n`],
  ],
  [
    "md T alone",
    (
      k,
    ) => [
      `ms ${k} 2 T100\r\nhi\r\nmd ${k} T30 I q\r\nmg ${k} t\r\nms ${k}y 2\r\nhi\r\nmd ${k}y T30\r\nmg ${k}y\r\n`,
    ],
  ],
  ["md errors", (k) => [
    `md ${k} x\r\nmd ${k} v v\r\nmd ${k} Tx\r\nmd ${k} Mxx\r\nmd ${k} O${
      long(32)
    }\r\n` +
    `md ${long(251)}\r\nmd\r\nmd ${k} ${long(18, "v ")}\r\nmd !!!! b\r\n`,
  ]],
  ["md base64", (k, b) => [`ms ${k} 1\r\na\r\nmd ${b} b k\r\nmg ${k}\r\n`]],
  ["ma basic", (k) => [
    `ma ${k}\r\nma ${k} q\r\nma ${k} N0 J10 v\r\nma ${k} v\r\nma ${k} MD D5 v\r\n` +
    `ma ${k} M- v\r\nma ${k} M+ D100 v c t\r\nma ${k} MI v\r\nma ${k} q\r\nmg ${k} v\r\n`,
  ]],
  ["ma vivify quiet", (k) => [`ma ${k} q N0\r\nma ${k}y q N0 J5 v\r\nmn\r\n`]],
  [
    "ma vivify ttl",
    (k) => [`ma ${k} N100 J3 t v\r\nmg ${k} t v\r\nma ${k}y t N100\r\n`],
  ],
  ["ma decr floor wrap", (k) => [
    `ms ${k} 1\r\n5\r\nma ${k} MD D10 v\r\nms ${k} 20\r\n18446744073709551615\r\nma ${k} v\r\n`,
  ]],
  ["ma T", (k) => [
    `ms ${k} 2\r\n10\r\nma ${k} T100 t\r\nma ${k} t T500\r\nmg ${k} t v\r\n`,
  ]],
  [
    "ma T lost on growth",
    (k) => [`ms ${k} 1\r\n9\r\nma ${k} T100 t v\r\nmg ${k} t v\r\n`],
  ],
  [
    "ma padding",
    (k) => [`ms ${k} 3\r\n100\r\nma ${k} MD v\r\nmg ${k} v s\r\nget ${k}\r\n`],
  ],
  ["ma cas", (k) => [
    `ms ${k} 1 c\r\n1\r\nma ${k} C1 v\r\nma ${k} C0 v c\r\n`,
    (p) => `ma ${k} C${lastCas(p)} v\r\nma ${k} C${lastCas(p)}\r\n`,
  ]],
  ["ma non-numeric", (k) => [
    `ms ${k} 3\r\nabc\r\nma ${k}\r\nma ${k} C1\r\nms ${k} 0\r\n\r\nma ${k} C1\r\nma ${k} q\r\n`,
  ]],
  [
    "ma flags",
    (
      k,
      b,
    ) => [
      `ma ${k} k O5 N0\r\nma ${k} O6 k v\r\nma ${b} b k O7\r\nma ${b} b N0 k\r\n`,
    ],
  ],
  ["ma errors", (k) => [
    `ma ${k} MX\r\nma ${k} M\r\nma ${k} Dx\r\nma ${k} J-1\r\nma ${k} D-1\r\nma ${k} x\r\n` +
    `ma ${k} N0 O${long(32)}\r\nma ${k} v\r\nma ${long(251)}\r\nma\r\nma ${k} ${
      long(18, "v ")
    }\r\n`,
  ]],
  [
    "ma big delta",
    (
      k,
    ) => [
      `ma ${k} N0 J18446744073709551615 v\r\nma ${k} D18446744073709551615 v\r\n`,
    ],
  ],
  [
    "ma and incr",
    (k) => [`ma ${k} N0 J7\r\nincr ${k} 3\r\ndecr ${k} 1\r\nma ${k} v\r\n`],
  ],
];

/** mn, me, pipelining and odd corners. */
export const OTHER: Case[] = [
  [
    "u leaves unfetched",
    (
      k,
    ) => [
      `ms ${k} 1\r\nx\r\nmg ${k} u v\r\nmg ${k} h u\r\nme ${k}\r\nmg ${k} h\r\nme ${k}\r\n`,
    ],
  ],
  [
    "bare opaque",
    (k) => [`mg ${k} O k\r\nms ${k} 1 O\r\na\r\nmg ${k} O v\r\nmd ${k} O\r\n`],
  ],
  [
    "I without C",
    (k) => [`ms ${k} 2\r\nhi\r\nms ${k} 2 I\r\nyo\r\nmg ${k} v\r\n`],
  ],
  ["md I with cas", (k) => [
    `ms ${k} 2 c\r\nhi\r\n`,
    (p) => `md ${k} I C${lastCas(p)} T50 c\r\nmg ${k} t c\r\n`,
  ]],
  [
    "N then T",
    (k) => [`mg ${k} N30 T60 t\r\nmg ${k} T60 N30 t\r\nma ${k}y N0 T100 t\r\n`],
  ],
  [
    "append empty",
    (k) => [`ms ${k} 1\r\na\r\nms ${k} 0 MA\r\n\r\nmg ${k} v\r\n`],
  ],
  ["flags truncate", (k) => [`ms ${k} 1 F4294967301\r\na\r\nmg ${k} f\r\n`]],
  [
    "absolute past ttl",
    (
      k,
    ) => [
      `ms ${k} 1 T2592001\r\na\r\nmg ${k}\r\nms ${k} 1 T-5\r\na\r\nmg ${k}\r\n`,
    ],
  ],
  [
    "recache odd",
    (
      k,
    ) => [
      `ms ${k} 1 T50\r\na\r\nmg ${k} R-1\r\nmg ${k} R0\r\nmg ${k} R2592001\r\n`,
    ],
  ],
  ["ma zero delta, expired vivify", (k) => [
    `ma ${k} N0 J5 D0 v\r\nma ${k} D0 v\r\nma ${k}y N-1 J5 v\r\nmg ${k}y\r\n`,
  ]],
  [
    "long base64 key",
    () => [
      `ms ${btoa(long(186, "z"))} 1 b k\r\na\r\nmg ${long(186, "z")} k s\r\n`,
    ],
  ],
  [
    "tab inside tokens",
    (k) => [`ms ${k} 1\r\na\r\nmg ${k} v\tk\r\nmg ${k}\tv\r\n`],
  ],
  [
    "trailing spaces",
    (k) => [`ms ${k}  1  T10 \r\na\r\nmg  ${k}  v   t \r\nmn   \r\n`],
  ],
  ["bare LF", (k) => [`ms ${k} 1\na\r\nmg ${k} v\n`]],
  ["mn", () => [`mn\r\nmn foo bar\r\n`]],
  [
    "me",
    (
      k,
    ) => [
      `me ${k}\r\nms ${k} 2 T100\r\nhi\r\nme ${k}\r\nmg ${k}\r\nme ${k}\r\nme ${k} x y\r\n`,
    ],
  ],
  ["me immortal", (k) => [`ms ${k} 100\r\n${long(100)}\r\nme ${k}\r\n`]],
  ["me errors", (k) => [`me\r\nme ${long(251)}\r\nme !!!! b\r\nme ${k} b\r\n`]],
  [
    "me base64",
    (k, b) => [`ms ${b} 1 b\r\na\r\nme ${b} b\r\nme ${k}\r\nme ${b}\r\n`],
  ],
  ["quiet pipeline", (k) => [
    Array.from({ length: 100 }, (_, i) => `mg ${k}${i} q v k`).join("\r\n") +
    `\r\nms ${k}5 1 q\r\na\r\nmg ${k}5 q v\r\nmn\r\n`,
  ]],
];
