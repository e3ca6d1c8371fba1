#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end benchmark: bench/zone through libvgpu + vgpu-proxy versus the same program calling
# the same driver directly in-process, side by side in one run, plus the bare ring round trip.
# Writes docs/perf/zone.md unless --quick or --no-write.
set -eu
B=${VGPU_BUILD:-build/rel}
quick=; write=1; out=docs/perf/zone.md
for a in "$@"; do
  case $a in
    --quick) quick=--quick; write= ;;
    --no-write) write= ;;
    --help) echo "usage: bench/zone.sh [--quick] [--no-write]   (VGPU_BUILD=build/rel; VGPU_E2E_BACKEND=sim|cuda)"; exit 0 ;;
    *) echo "bench/zone.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
backend=${VGPU_E2E_BACKEND:-sim}
sim=$PWD/$B/sim/libcudasim.so
. tests/proxy_lib.sh
proxy_start "$B" "$backend" --log-level warn || exit 1
tmp=$PROXY_TMP
export VGPU_BENCH_KERNELS=$PWD/$B/tests/kernels/basic.fatbin
VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu "$B/bench/zone_app" $quick >"$tmp/zone.txt"
# The same program in a registered zone: its allocations also go through the registration's
# shared memory budget (proxy/pool.c); compared with the unregistered run just above.
tok=$("$B/proxy/vgpuctl" --listen "$PROXY_SOCK" register bench --mem 64G)
VGPU_ZONE_TOKEN=$tok VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu "$B/bench/zone_app" $quick >"$tmp/reg.txt"
"$B/proxy/vgpuctl" --listen "$PROXY_SOCK" unregister bench >/dev/null
mkdir "$tmp/direct"
# On the real driver the inherited library path stays: it may be how libcuda.so.1 is found.
libpath=${LD_LIBRARY_PATH:-}
if [ "$backend" = sim ]; then ln -s "$sim" "$tmp/direct/libcuda.so.1"; libpath=$tmp/direct; fi
LD_LIBRARY_PATH=$libpath "$B/bench/zone_app" $quick >"$tmp/direct.txt"
ring_rtt=$("$B/bench/ring" --quick --no-write | awk -F'|' '/spinning/ && /ping-pong/ {gsub(/ us| /, "", $3); print $3; exit}')

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
{
  echo "# End-to-end benchmark (\`make bench\`, bench/zone.sh)"
  echo
  echo "bench/zone run twice in one go: as a zone (libvgpu -> ring -> vgpu-proxy -> $backend backend)"
  echo "and directly on the same backend in-process. Ratio = through vgpu / direct: for"
  echo "times lower is better, for rates and bandwidths higher is better. CPU: $cpu, $(nproc) CPUs. Backend: $backend."
  echo
  echo "| measurement | through vgpu | direct | ratio |"
  echo "|---|---:|---:|---:|"
  join <(sort "$tmp/zone.txt") <(sort "$tmp/direct.txt") | sort -t_ -k1,1 -s | while read -r k zv u dv u2; do
    r=$(awk -v a="$zv" -v b="$dv" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    echo "| $k | $zv $u | $dv $u2 | ${r}x |"
  done
  echo
  echo "Bare ring round trip (bench/ring, 64 B, spinning) in the same run: ${ring_rtt:-?} us;"
  t=$(awk '/^trivial_call_ns/ {print $2}' "$tmp/zone.txt")
  awk -v t="$t" -v r="${ring_rtt:-0}" 'BEGIN { if (r > 0) printf "trivial call through vgpu = %.2fx the bare ring round trip (goal <= 2x).\n", t / 1000 / r }'
  echo
  a=$(awk '/^alloc_free_ns/ {print $2}' "$tmp/zone.txt")
  g=$(awk '/^alloc_free_ns/ {print $2}' "$tmp/reg.txt")
  awk -v a="$a" -v g="$g" 'BEGIN { if (a > 0) printf "alloc+free in a registered zone (shared budget, proxy/pool.c): %s ns vs %s ns unregistered in the same run = %.2fx.\n", g, a, g / a }'
} >"$tmp/report.md"
cat "$tmp/report.md"
if [ -n "$write" ]; then cp "$tmp/report.md" "$out"; echo "(written to $out)"; fi
