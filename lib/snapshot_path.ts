/**
 * Checks a `--snapshot` path before the server serves anything, so a path
 * that could never be written is a clear error at start instead of an exit
 * 71 "failed to listen" or, worse, a run whose data is lost at exit.
 *
 * A symlink is followed: the snapshot is written (via `TARGET.tmp` and a
 * rename) to the file it points to, and the link itself is left in place.
 * A dangling symlink, a directory or any other non-regular file, a missing
 * or non-directory parent, and a directory the process cannot create files
 * in are refused.
 * @module
 */

import { tmpPath } from "./snapshot.ts";

/** An unusable snapshot path; the message is for the operator. */
export class SnapshotPathError extends Error {}

function why(e: unknown): string {
  return (e as Error).message;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/**
 * Returns the path the snapshot is read from and written to (`path`, or
 * the file a symlink at `path` points to), having checked that it is a
 * regular file or absent, and that its directory exists and takes new
 * files (by creating and removing `TARGET.tmp`, which only a save uses, so
 * only the documented file-level permissions are needed).
 */
export function checkSnapshotPath(path: string): string {
  let target = path;
  let info: Deno.FileInfo | null = null;
  try {
    info = Deno.lstatSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new SnapshotPathError(`--snapshot ${path}: ${why(e)}`);
    }
  }
  if (info?.isSymlink) {
    try {
      target = Deno.realPathSync(path);
      info = Deno.statSync(target);
    } catch (e) {
      throw new SnapshotPathError(
        `--snapshot ${path} is a symlink whose target cannot be used: ${
          why(e)
        }`,
      );
    }
  }
  if (info !== null && !info.isFile) {
    throw new SnapshotPathError(
      `--snapshot ${target} is ${
        info.isDirectory ? "a directory" : "not a regular file"
      }; give a file path`,
    );
  }
  const tmp = tmpPath(target);
  try {
    Deno.openSync(tmp, { write: true, create: true }).close();
    Deno.removeSync(tmp);
  } catch (e) {
    const dir = parentOf(target);
    throw new SnapshotPathError(
      e instanceof Deno.errors.NotFound
        ? `--snapshot ${target}: directory ${dir} does not exist`
        : e instanceof Deno.errors.NotADirectory
        ? `--snapshot ${target}: ${dir} is not a directory`
        : `--snapshot ${target}: cannot create ${tmp} (${
          why(e)
        }); the snapshot could not be saved`,
    );
  }
  return target;
}
