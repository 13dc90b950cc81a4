import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The store holds password hashes, client secrets and live tokens: only its owner may read it.
 * Makes the folder (0700, when we create it) and the database file (0600) before SQLite opens it;
 * SQLite gives -wal and -shm the main file's mode. An existing file, -wal or -shm more permissive
 * than 0600 is tightened to 0600.
 */
export function prepareDatabaseFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) tighten(file);
}

function tighten(file: string): void {
  try {
    if ((statSync(file).mode & 0o177) !== 0) chmodSync(file, 0o600);
  } catch (err) {
    // gone, or someone else's file (its owner chose its mode): nothing we may tighten
    const { code } = err as NodeJS.ErrnoException;
    if (code !== 'ENOENT' && code !== 'EPERM') throw err;
  }
}
