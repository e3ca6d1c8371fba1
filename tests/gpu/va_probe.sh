#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Where the driver puts device memory, and whether a fresh process gets the addresses another
# process had: what restoring a zone into a new worker needs (docs/ARCHITECTURE.md, "Restoring").
# Each probe is its own process (tests/gpu/va_probe):
#   1. two processes allocate: the same addresses, or not?
#   2. a third reserves, right after creating its context, the first one's 16 MiB address
#   3. another reserves 1 GiB at a fixed address far from the others (0x200000000000)
#   4. 1-3 again without address-space randomisation (setarch -R), where setarch exists
# Prints one line per probe and a last line summing them up.
# --expect-honoured: fail unless probe 2 got its address and used it (the simulator: its
# device memory lies at the same place in every process, which restores there rely on).
set -u
B=${VGPU_BUILD:-build/san}
backend=${VGPU_E2E_BACKEND:-sim}
expect=
case ${1:-} in
  --expect-honoured) expect=1 ;;
  --help) sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  '') ;;
  *) echo "tests/gpu/va_probe.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac
probe=$PWD/$B/tests/gpu/va_probe
[ -x "$probe" ] || { echo "FAIL: $probe is not built"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-va_probe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
libpath=${LD_LIBRARY_PATH:-}
if [ "$backend" = sim ]; then
  [ -f "$B/sim/libcudasim.so" ] || { echo "skip: $B/sim/libcudasim.so is not built (the simulator stands in without a GPU)"; exit 77; }
  ln -s "$PWD/$B/sim/libcudasim.so" "$tmp/libcuda.so.1"
  libpath=$tmp
fi

fail=0
run() { # run LABEL [setarch...] -- va_probe ARGS: one probe, its output on stdout
  local label=$1 out
  shift
  if ! out=$(LD_LIBRARY_PATH=$libpath "$@" 2>&1); then
    { echo "FAIL: $label: $* failed:"; echo "$out" | sed 's/^/    /'; } >&2; fail=1; return 1
  fi
  echo "$out"
}

round() { # round LABEL [PREFIX...]: probes 1-3, each in a fresh process run under PREFIX
  local label=$1 a1 a2 r2 r3 same
  shift
  a1=$(run "$label alloc 1" "$@" "$probe" alloc) || return
  a2=$(run "$label alloc 2" "$@" "$probe" alloc) || return
  first=$(echo "$a1" | awk '/^alloc/ { print $2 }')
  [ "$(echo "$a1" | grep '^alloc')" = "$(echo "$a2" | grep '^alloc')" ] && same=same || same=different
  echo "$label: two processes allocated at $(echo "$a1" | grep '^alloc' | cut -d' ' -f2-) and $(echo "$a2" | grep '^alloc' | cut -d' ' -f2-): $same addresses"
  r2=$(run "$label reserve" "$@" "$probe" reserve "$first" $((16 << 20))) || return
  echo "$label: a fresh process asking for the first one's address: $(echo "$r2" | tr '\n' ' ')"
  r3=$(run "$label reserve far" "$@" "$probe" reserve 0x200000000000 $((1 << 30))) || return
  echo "$label: a fresh process asking for 1 GiB at 0x200000000000: $(echo "$r3" | tr '\n' ' ')"
  summary+="$label: $same addresses, old address $(echo "$r2" | awk '/^reserve/ { print $6 }'), far address $(echo "$r3" | awk '/^reserve/ { print $6 }'); "
  if [ -n "$expect" ] && [ "$label" = randomised ]; then
    if ! echo "$r2" | grep -q ' honoured ' || ! echo "$r2" | grep -qx 'use ok'; then
      echo "FAIL: a fresh process did not get back and use the address another one had (--expect-honoured)"; fail=1
    fi
  fi
}

summary=
round randomised
if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
  round "not randomised" setarch "$(uname -m)" -R
else
  summary+="not randomised: not tried (no setarch, or it may not turn randomisation off here); "
fi
[ $fail -eq 0 ] || exit 1
echo "va-probe ($backend): ${summary%; }"
