/**
 * `-P FILE`: the pid file, written as memcached writes it (`PID\n` to
 * `FILE.tmp`, then renamed over `FILE`, so a reader never sees it empty)
 * and removed on a graceful exit.
 * @module
 */

/** Writes `pid` to `path` through `path.tmp`; returns an error text or null. */
export function writePidFile(path: string, pid: number): string | null {
  const tmp = `${path}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, `${pid}\n`);
    Deno.renameSync(tmp, path);
    return null;
  } catch (e) {
    return `Could not write the pid file ${path}: ${(e as Error).message}`;
  }
}

/**
 * Removes the pid file if it still holds `pid` (a newer server may have
 * replaced it); returns an error text or null.
 */
export function removePidFile(path: string, pid: number): string | null {
  try {
    if (Deno.readTextFileSync(path).trim() !== String(pid)) return null;
    Deno.removeSync(path);
    return null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    return `Could not remove the pid file ${path}: ${(e as Error).message}`;
  }
}

/**
 * The permissions the pid file needs, as Deno descriptors (a rename needs
 * read and write on both names).
 */
export function pidFilePermissions(path: string): Deno.PermissionDescriptor[] {
  const tmp = `${path}.tmp`;
  return [
    { name: "read", path },
    { name: "read", path: tmp },
    { name: "write", path },
    { name: "write", path: tmp },
  ];
}
