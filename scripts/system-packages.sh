#!/usr/bin/env bash
# Installs the Debian packages the tests and the benchmark drive as real peers: OpenSSH
# (client and a throwaway sshd for the bench), lftp, rclone, PuTTY's psftp, GnuPG, Sequoia sq,
# Chromium for the admin UI browser tests, and util-linux's unshare and fallocate (a real full
# disk: a tmpfs in a private mount namespace). As root it installs what is missing; otherwise
# it names what is missing and exits non-zero.
set -euo pipefail
declare -A need=(
  [ssh]=openssh-client [sftp]=openssh-client [scp]=openssh-client [ssh-keygen]=openssh-client
  [/usr/sbin/sshd]=openssh-server [lftp]=lftp [rclone]=rclone [psftp]=putty-tools
  [gpg]=gnupg [sq]=sq [chromium]=chromium
  [unshare]=util-linux [fallocate]=util-linux [mount]=mount
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
