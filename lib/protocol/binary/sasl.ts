/**
 * SASL over the binary protocol (`-S`): List Mechs, Auth and Step with the
 * PLAIN mechanism, checked against the server's password file in constant
 * time. Replies, statuses and counters follow memcached 1.6.18 with Cyrus
 * SASL offering `mech_list: plain`: an Auth with no data asks for it
 * (Auth continue), a Step then carries it; success answers
 * `Authenticated`, failure `Auth failure.` (both count `auth_cmds`, failure
 * also `auth_errors`). Every List Mechs or Auth starts the connection over
 * as unauthenticated, as memcached's init_sasl_conn does, and as with Cyrus
 * a connection that has authenticated once cannot authenticate again.
 * @module
 */

import { NEED_MORE, type Session } from "../types.ts";
import { MAX_SASL_MECH_LEN, Op, St } from "./constants.ts";
import { error, header, success } from "./encode.ts";
import type { BinRequest } from "./request.ts";

const enc = new TextEncoder();
const MECHS = enc.encode("PLAIN");
const AUTHENTICATED = enc.encode("Authenticated");

/** List Mechs: `PLAIN`; Unknown command when SASL is off. */
export function saslListMechs(s: Session, r: BinRequest): number {
  if (s.ctx.sasl === null) {
    error(s, r, St.UnknownCommand, null, r.bodylen - r.keylen);
    return 0;
  }
  s.authed = false;
  success(s, r, 0, MECHS);
  return 0;
}

/** Whether the key names PLAIN (SASL mechanism names ignore case). */
function isPlain(buf: Uint8Array, ks: number, kl: number): boolean {
  if (kl !== 5) return false;
  for (let i = 0; i < 5; i++) {
    if ((buf[ks + i] | 0x20) !== MECHS[i] + 0x20) return false;
  }
  return true;
}

/**
 * Checks a PLAIN message `authzid NUL authcid NUL passwd`: the authorization
 * id must be empty or the user itself (no proxy authorization).
 */
function checkPlain(
  s: Session,
  buf: Uint8Array,
  p: number,
  end: number,
): boolean {
  const check = s.ctx.sasl;
  if (check === null) return false;
  const nul1 = buf.indexOf(0, p);
  if (nul1 < 0 || nul1 >= end) return false;
  const nul2 = buf.indexOf(0, nul1 + 1);
  if (nul2 < 0 || nul2 >= end) return false;
  const user = buf.subarray(nul1 + 1, nul2);
  const authz = buf.subarray(p, nul1);
  if (authz.length > 0) {
    if (authz.length !== user.length) return false;
    for (let i = 0; i < user.length; i++) {
      if (authz[i] !== user[i]) return false;
    }
  }
  if (user.length === 0) return false;
  return check(user, buf.subarray(nul2 + 1, end));
}

/** Auth / Step: the key is the mechanism, the value the client's data. */
export function saslAuth(
  s: Session,
  buf: Uint8Array,
  end: number,
  r: BinRequest,
): number {
  const vlen = r.vlen;
  if (s.ctx.sasl === null) {
    error(s, r, St.UnknownCommand, null, vlen);
    return 0;
  }
  if (r.keylen > MAX_SASL_MECH_LEN) {
    error(s, r, St.Einval, null, vlen);
    return 0;
  }
  // memcached reads the data into an item: more than an item holds is ENOMEM.
  if (!s.ctx.store.fits(r.keylen, vlen)) {
    error(s, r, St.Enomem, null, vlen);
    return 0;
  }
  if (end - r.vs < vlen) return NEED_MORE;
  s.authed = false;
  const c = s.ctx.counters;
  const plain = isPlain(buf, r.ks, r.keylen);
  let ok = false;
  if (s.saslDone) {
    // Cyrus: "attempting server step after doneflag".
    s.saslStarted = false;
  } else if (r.cmd === Op.SaslAuth) {
    if (plain && vlen === 0) {
      // Cyrus asks for the PLAIN message with an empty challenge.
      s.saslStarted = true;
      header(s, r, St.AuthContinue, 0, 0, 0, 0);
      return 0;
    }
    ok = plain && checkPlain(s, buf, r.vs, r.vs + vlen);
    s.saslStarted = ok;
  } else if (s.saslStarted) {
    // A Step continues the mechanism its Auth started (always PLAIN here).
    ok = checkPlain(s, buf, r.vs, r.vs + vlen);
  }
  if (s.ctx.verbose > 0) {
    console.error(`sasl result for connection ${s.id}: ${ok ? "ok" : "fail"}`);
  }
  c.auth_cmds++;
  if (ok) {
    s.authed = true;
    s.saslDone = true;
    success(s, r, 0, AUTHENTICATED);
  } else {
    c.auth_errors++;
    error(s, r, St.AuthError);
  }
  return vlen;
}
