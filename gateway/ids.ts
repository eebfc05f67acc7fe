import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A ULID (time-sortable, 128 bits: 48-bit milliseconds + 80 random bits), lower-case Crockford
 * base32. Upload and delivery ids are made here, so every name on disk derives from a string
 * the gateway made, never from a client's.
 */
export function newId(now: number = Date.now()): string {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(10);
  let bits = 0;
  let acc = 0;
  for (const byte of rnd) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31];
    }
  }
  return out;
}

export const ID_PATTERN = /^[0-9a-hjkmnp-tv-z]{26}$/;
