/**
 * memcached's binary protocol constants (protocol_binary.h): magic bytes,
 * opcodes, status codes and the error texts memcached 1.6.18 sends with them.
 * @module
 */

/** Magic byte of a request; a connection whose first byte is this speaks binary. */
export const BIN_REQ = 0x80;
/** Magic byte of a response. */
export const BIN_RES = 0x81;
/** Size of a request or response header. */
export const HEADER = 24;
/** Longest SASL mechanism name memcached accepts (MAX_SASL_MECH_LEN). */
export const MAX_SASL_MECH_LEN = 32;

/** Opcodes memcached 1.6.18 dispatches (others get Unknown command). */
export const Op = {
  Get: 0x00,
  Set: 0x01,
  Add: 0x02,
  Replace: 0x03,
  Delete: 0x04,
  Increment: 0x05,
  Decrement: 0x06,
  Quit: 0x07,
  Flush: 0x08,
  GetQ: 0x09,
  NoOp: 0x0a,
  Version: 0x0b,
  GetK: 0x0c,
  GetKQ: 0x0d,
  Append: 0x0e,
  Prepend: 0x0f,
  Stat: 0x10,
  SetQ: 0x11,
  AddQ: 0x12,
  ReplaceQ: 0x13,
  DeleteQ: 0x14,
  IncrementQ: 0x15,
  DecrementQ: 0x16,
  QuitQ: 0x17,
  FlushQ: 0x18,
  AppendQ: 0x19,
  PrependQ: 0x1a,
  Touch: 0x1c,
  Gat: 0x1d,
  GatQ: 0x1e,
  SaslListMechs: 0x20,
  SaslAuth: 0x21,
  SaslStep: 0x22,
  GatK: 0x23,
  GatKQ: 0x24,
} as const;

/** Response status codes. */
export const St = {
  Success: 0x00,
  KeyEnoent: 0x01,
  KeyEexists: 0x02,
  E2big: 0x03,
  Einval: 0x04,
  NotStored: 0x05,
  DeltaBadval: 0x06,
  AuthError: 0x20,
  AuthContinue: 0x21,
  UnknownCommand: 0x81,
  Enomem: 0x82,
} as const;

const enc = new TextEncoder();

/** The body memcached's write_bin_error sends for each status. */
export const ERR_TEXT: Readonly<Record<number, Uint8Array>> = {
  [St.Enomem]: enc.encode("Out of memory"),
  [St.UnknownCommand]: enc.encode("Unknown command"),
  [St.KeyEnoent]: enc.encode("Not found"),
  [St.Einval]: enc.encode("Invalid arguments"),
  [St.KeyEexists]: enc.encode("Data exists for key."),
  [St.E2big]: enc.encode("Too large."),
  [St.DeltaBadval]: enc.encode(
    "Non-numeric server-side value for incr or decr",
  ),
  [St.NotStored]: enc.encode("Not stored."),
  [St.AuthError]: enc.encode("Auth failure."),
};

/** ENOMEM bodies of memcached's out_of_memory() calls (prefix stripped). */
export const OOM = {
  item: enc.encode("Out of memory allocating item"),
  newItem: enc.encode("Out of memory allocating new item"),
  incr: enc.encode("Out of memory incrementing value"),
};

/**
 * The non-quiet opcode of each quiet one: memcached treats a quiet command
 * as its loud twin whose success reply is dropped.
 */
export const LOUD: Uint8Array = (() => {
  const m = new Uint8Array(256);
  for (let i = 0; i < 256; i++) m[i] = i;
  m[Op.SetQ] = Op.Set;
  m[Op.AddQ] = Op.Add;
  m[Op.ReplaceQ] = Op.Replace;
  m[Op.DeleteQ] = Op.Delete;
  m[Op.IncrementQ] = Op.Increment;
  m[Op.DecrementQ] = Op.Decrement;
  m[Op.QuitQ] = Op.Quit;
  m[Op.FlushQ] = Op.Flush;
  m[Op.AppendQ] = Op.Append;
  m[Op.PrependQ] = Op.Prepend;
  m[Op.GetQ] = Op.Get;
  m[Op.GetKQ] = Op.GetK;
  m[Op.GatQ] = Op.Gat;
  m[Op.GatKQ] = Op.GatK;
  return m;
})();
