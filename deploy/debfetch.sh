#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetches Debian packages from the archive's contrib and non-free components into a folder,
# unpacked, without installing them and without touching the system's APT sources: a
# private sources list, package lists and cache under DEST/apt. Used for third-party CUDA
# software Debian ships outside main (PyCUDA), which the tests run as zones.
#   deploy/debfetch.sh --dest DIR PKG...
# Each PKG is unpacked under DIR/root (DIR/root/usr/lib/python3/dist-packages/...); DIR/PKG.version
# records the version, and a package already there is not fetched again. Only the named
# packages are fetched, not their dependencies (deploy/deps.sh installs those from main).
# Environment: VGPU_DEBIAN_MIRROR (default http://deb.debian.org/debian), VGPU_DEBIAN_SUITE
# (default: this system's codename, from /etc/os-release).
set -euo pipefail
usage() { sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'; }
dest=
pkgs=()
while [ $# -gt 0 ]; do
  case $1 in
    --dest) dest=${2:?--dest needs a folder}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    -*) echo "debfetch: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) pkgs+=("$1"); shift ;;
  esac
done
if [ -z "$dest" ] || [ ${#pkgs[@]} -eq 0 ]; then
  usage >&2
  exit 2
fi

todo=()
for p in "${pkgs[@]}"; do
  [ -s "$dest/$p.version" ] || todo+=("$p")
done
[ ${#todo[@]} -eq 0 ] && exit 0

suite=${VGPU_DEBIAN_SUITE:-$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")}
if [ -z "$suite" ]; then
  echo "debfetch: cannot tell this system's Debian release; set VGPU_DEBIAN_SUITE (e.g. bookworm)" >&2
  exit 1
fi
mirror=${VGPU_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)   # (APT reads relative paths from /)
# An archive that cannot be reached is said at once (a machine without a network must not wait
# out APT's retries): its host's port, within 5 seconds.
hostport=${mirror#*://}
hostport=${hostport%%/*}
host=${hostport%%:*}
port=80
[ "$hostport" != "$host" ] && port=${hostport#*:}
case $mirror in https://*) [ "$hostport" = "$host" ] && port=443 ;; esac
if ! timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
  echo "debfetch: error: $host:$port ($mirror) cannot be reached from here" >&2
  exit 1
fi
apt=$dest/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$dest/root"
echo "deb $mirror $suite contrib non-free" >"$apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
      -o APT::Sandbox::User=root -o Acquire::Retries=0 -o Acquire::http::Timeout=15 -q)
echo "debfetch: fetching ${todo[*]} from $mirror $suite (contrib, non-free) into $dest"
if ! apt-get "${opts[@]}" update >"$apt/update.log" 2>&1; then
  echo "debfetch: error: could not read the package lists of $mirror $suite (see $apt/update.log)" >&2
  exit 1
fi
for p in "${todo[@]}"; do
  ver=$(apt-cache "${opts[@]}" show --no-all-versions "$p" 2>/dev/null | sed -n 's/^Version: //p' | head -n1 || true)
  if [ -z "$ver" ]; then
    echo "debfetch: error: $mirror $suite has no package $p in contrib or non-free" >&2
    exit 1
  fi
  rm -f "$apt/debs/${p}_"*.deb
  if ! (cd "$apt/debs" && apt-get "${opts[@]}" download "$p" >"$apt/download.log" 2>&1); then
    echo "debfetch: error: could not download $p $ver (see $apt/download.log)" >&2
    exit 1
  fi
  dpkg-deb -x "$apt/debs/${p}_"*.deb "$dest/root"
  echo "$ver" >"$dest/$p.version"
  echo "debfetch: $p $ver unpacked under $dest/root"
done
