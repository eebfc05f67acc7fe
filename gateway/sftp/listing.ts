/** Attributes and `ls -l` style long names for what the gateway shows (pure). */

export interface FileAttrs {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: number;
  mtime: number;
}

export interface NameEntry {
  filename: string;
  longname: string;
  attrs: FileAttrs;
}

export const MODE = {
  DIR_READ: 0o040500,
  DIR_WRITE_ONLY: 0o040300,
  DIR_READ_DELETE: 0o040700,
  FILE_READ: 0o100400,
  FILE_READ_DELETE: 0o100600,
  FILE_WRITE_ONLY: 0o100200,
} as const;

export function attrs(mode: number, size: number, mtimeMs: number): FileAttrs {
  const t = Math.floor(mtimeMs / 1000);
  return { mode, uid: 0, gid: 0, size, atime: t, mtime: t };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function modeString(mode: number): string {
  const type = (mode & 0o170000) === 0o040000 ? 'd' : '-';
  let s = type;
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    s += (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
  }
  return s;
}

/** The long name OpenSSH's server would send (clients such as lftp parse it). */
export function longname(name: string, a: FileAttrs, owner: string, now: number = Date.now()): string {
  const d = new Date(a.mtime * 1000);
  const recent = Math.abs(now - d.getTime()) < 182 * 24 * 3600 * 1000;
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const when = recent
    ? `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`
    : ` ${d.getUTCFullYear()}`;
  const who = owner.slice(0, 16).padEnd(8, ' ');
  return `${modeString(a.mode)}    1 ${who} ${who} ${String(a.size).padStart(8, ' ')} ${MONTHS[d.getUTCMonth()]} ${day} ${when} ${name}`;
}

export function entry(name: string, a: FileAttrs, owner: string): NameEntry {
  return { filename: name, longname: longname(name, a, owner), attrs: a };
}
