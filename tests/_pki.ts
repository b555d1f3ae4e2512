/**
 * A throwaway CA and a server certificate for localhost/127.0.0.1 signed by
 * it, made with `openssl` (null, with a SKIP line, where it is missing).
 * @module
 */

import { skip, which } from "./_helpers.ts";

/** Files of a test PKI; remove `dir` when done. */
export interface Pki {
  dir: string;
  /** The CA certificate (PEM), for clients. */
  ca: string;
  certFile: string;
  keyFile: string;
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args[0]}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** Makes the CA and the leaf (rustls refuses a self-signed leaf). */
export async function makePki(): Promise<Pki | null> {
  const openssl = which("openssl");
  if (!openssl) {
    skip("openssl not installed (apt-get install -y openssl)");
    return null;
  }
  const dir = await Deno.makeTempDir({ prefix: "denocached-pki-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await run(openssl, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=denocached test CA",
  ], dir); // deno-fmt-ignore
  await run(openssl, [
    "req", ...ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=localhost",
  ], dir); // deno-fmt-ignore
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await run(openssl, [
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  ], dir); // deno-fmt-ignore
  return {
    dir,
    ca: await Deno.readTextFile(`${dir}/ca.pem`),
    certFile: `${dir}/cert.pem`,
    keyFile: `${dir}/key.pem`,
  };
}
