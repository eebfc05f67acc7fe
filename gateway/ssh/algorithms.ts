import type { Algorithms, CipherAlgorithm, KexAlgorithm, MacAlgorithm, ServerHostKeyAlgorithm } from 'ssh2';

/**
 * The SSH algorithms the gateway offers (security.md invariant 5). Explicit lists: ssh2's
 * defaults include NIST curves, SHA-1 and CTR/CBC modes, none of which we want.
 *
 * Strict key exchange (Terrapin, CVE-2023-48795): ssh2 1.17 appends the
 * `kex-strict-s-v00@openssh.com` marker to the server's kex list itself (lib/server.js builds
 * the offer as `generateAlgorithmList(cfg.kex…).concat(['kex-strict-s-v00@openssh.com'])`) and
 * enforces it when the client offers `kex-strict-c-v00@openssh.com`; the marker cannot be
 * configured away, and test/ssh checks that OpenSSH reports it.
 */
export const KEX: readonly KexAlgorithm[] = ['curve25519-sha256', 'curve25519-sha256@libssh.org'];

export const CIPHERS: readonly CipherAlgorithm[] = [
  'aes256-gcm@openssh.com',
  'aes128-gcm@openssh.com',
  'chacha20-poly1305@openssh.com',
];

/** Only used with a non-AEAD cipher, which we do not offer; listed so no weak MAC can be picked. */
export const MACS: readonly MacAlgorithm[] = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'];

/**
 * Host key: ssh-ed25519 only. ssh2 1.17 cannot offer an RSA host key without also offering
 * `ssh-rsa` (SHA-1) signatures: lib/server.js appends it at the lowest priority whatever the
 * configured list says. So an RSA host key is refused at start (see hostkey.ts) rather than
 * offered with SHA-1; every client we target (OpenSSH ≥ 6.5, PuTTY ≥ 0.68, WinSCP, FileZilla,
 * lftp, rclone) speaks ed25519.
 */
export const HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = ['ssh-ed25519'];

export function serverAlgorithms(): Algorithms {
  return {
    kex: [...KEX],
    serverHostKey: [...HOST_KEY_ALGORITHMS],
    cipher: [...CIPHERS],
    hmac: [...MACS],
    compress: ['none'],
  };
}
