#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end benchmark: bench/zone through libvgpu + vgpu-proxy versus the same program calling
# the same driver directly in-process, run several times alternating the two sides so that the
# host's drift falls on both equally; reports min/median/max and the ratio of the medians, plus
# the bare ring round trip. Writes docs/perf/zone.md unless --quick or --no-write.
set -eu
B=${VGPU_BUILD:-build/rel}
quick=; write=1; runs=; bulk=; threads=; out=docs/perf/zone.md
usage="usage: bench/zone.sh [--quick] [--no-write] [--runs N] [--bulk-kib K] [--copy-threads N]   (VGPU_BUILD=build/rel; VGPU_E2E_BACKEND=sim|cuda)
  --runs N    run the program N times through vgpu and N times directly, alternating
              (default 5, 1 with --quick); each figure is reported as min/median/max over
              the runs, and through vgpu is compared with direct by the ratio of the medians
  --quick     fewer iterations, copies up to 16 MiB; implies --no-write
  --no-write  print the report without writing $out
  --bulk-kib K  also time the pageable copies through vgpu with a K KiB bulk area
              (VGPU_BULK_KIB=K) in every run, and compare them with the default area's
  --copy-threads N  also time the pageable copies through vgpu with N helper threads
              splitting large copies (VGPU_COPY_THREADS=N; 0: the calling thread alone) in
              every run, and compare them with the default (the calling thread alone)"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=--quick; write= ;;
    --no-write) write= ;;
    --runs) [ $# -ge 2 ] || { echo "bench/zone.sh: --runs needs a number" >&2; exit 2; }; runs=$2; shift ;;
    --runs=*) runs=${1#--runs=} ;;
    --bulk-kib) [ $# -ge 2 ] || { echo "bench/zone.sh: --bulk-kib needs a size in KiB" >&2; exit 2; }; bulk=$2; shift ;;
    --bulk-kib=*) bulk=${1#--bulk-kib=} ;;
    --copy-threads) [ $# -ge 2 ] || { echo "bench/zone.sh: --copy-threads needs a number" >&2; exit 2; }; threads=$2; shift ;;
    --copy-threads=*) threads=${1#--copy-threads=} ;;
    --help) echo "$usage"; exit 0 ;;
    *) echo "bench/zone.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$runs" ] || { [ -n "$quick" ] && runs=1 || runs=5; }
case $bulk in
  '') ;;
  *[!0-9]*) echo "bench/zone.sh: --bulk-kib wants a power of two from 64 to 65536, not '$bulk'" >&2; exit 2 ;;
  *) if [ "$bulk" -lt 64 ] || [ "$bulk" -gt 65536 ] || [ $((bulk & (bulk - 1))) -ne 0 ]; then
       echo "bench/zone.sh: --bulk-kib wants a power of two from 64 to 65536, not '$bulk'" >&2; exit 2
     fi ;;
esac
case $threads in ''|[0-7]) ;; *) echo "bench/zone.sh: --copy-threads wants 0 to 7, not '$threads'" >&2; exit 2 ;; esac
case $runs in ''|*[!0-9]*|0) echo "bench/zone.sh: --runs wants a positive number, not '$runs'" >&2; exit 2 ;; esac
export LC_ALL=C   # decimal points in what awk and sort read and print

backend=${VGPU_E2E_BACKEND:-sim}
sim=$PWD/$B/sim/libcudasim.so
. tests/proxy_lib.sh
proxy_start "$B" "$backend" --log-level warn || exit 1
tmp=$PROXY_TMP
export VGPU_BENCH_KERNELS=$PWD/$B/tests/kernels/basic.fatbin
mkdir "$tmp/direct"
# On the real driver the inherited library path stays: it may be how libcuda.so.1 is found.
libpath=${LD_LIBRARY_PATH:-}
if [ "$backend" = sim ]; then ln -s "$sim" "$tmp/direct/libcuda.so.1"; libpath=$tmp/direct; fi

through_vgpu() { VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu "$B/bench/zone_app" $quick >"$tmp/zone.$1.txt"; }
direct() { LD_LIBRARY_PATH=$libpath "$B/bench/zone_app" $quick >"$tmp/direct.$1.txt"; }

# A registered zone's allocations also go through the registration's shared memory budget
# (proxy/pool.c); its alloc+free is compared with the unregistered runs.
tok=$("$B/proxy/vgpuctl" --listen "$PROXY_SOCK" register bench --mem 64G)
# A second proxy places zones' memory at fixed addresses (--device-va fixed, the virtual
# memory calls): its alloc+free too.
fixed_sock=$tmp/fixed.sock
"$B/proxy/vgpu-proxy" --listen "$fixed_sock" --backend "$backend" --sim-lib "$sim" --device-va fixed \
  --log-level warn >"$tmp/fixed.log" 2>&1 &
fixed_pid=$!
for _ in $(seq 100); do [ -S "$fixed_sock" ] && break; sleep 0.1; done
for i in $(seq "$runs"); do
  echo "bench/zone: run $i/$runs (through vgpu and direct, $((SECONDS / 60)) min so far) ..." >&2
  # Odd runs start with the zone, even runs with direct: a steady drift favours neither.
  if [ $((i % 2)) = 1 ]; then through_vgpu "$i"; direct "$i"; else direct "$i"; through_vgpu "$i"; fi
  VGPU_ZONE_TOKEN=$tok VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu \
    "$B/bench/zone_app" $quick --alloc-free >"$tmp/reg.$i.txt"
  VGPU_PROXY=$fixed_sock LD_LIBRARY_PATH=$PWD/$B/libvgpu "$B/bench/zone_app" $quick --alloc-free >"$tmp/fixed.$i.txt" ||
    echo "bench/zone: alloc+free with --device-va fixed failed; its proxy's log: $(tail -n 5 "$tmp/fixed.log")" >&2
  if [ -n "$bulk" ]; then
    VGPU_BULK_KIB=$bulk VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu \
      "$B/bench/zone_app" $quick --pageable-only >"$tmp/bulk.$i.txt"
  fi
  if [ -n "$threads" ]; then
    VGPU_COPY_THREADS=$threads VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu \
      "$B/bench/zone_app" $quick --pageable-only >"$tmp/threads.$i.txt"
  fi
  # The floor of a pageable copy on this host, in this run: the same bytes moved between two
  # cores through a shared area with nothing of vgpu's (bench/handoff). On the simulator both
  # copies are the CPU's; on a GPU the second is the device's DMA, which the floor does not
  # model, so it runs on the simulator alone.
  [ "$backend" != sim ] || "$B/bench/handoff" $quick >"$tmp/floor.$i.txt"
  "$B/bench/ring" --quick --no-write |
    awk -F'|' '/spinning/ && /ping-pong/ {gsub(/ us| /, "", $3); print "ring_rtt_us", $3, "us"; exit}' >"$tmp/ring.$i.txt"
done
"$B/proxy/vgpuctl" --listen "$PROXY_SOCK" unregister bench >/dev/null
kill -TERM "$fixed_pid" 2>/dev/null; wait "$fixed_pid" 2>/dev/null
echo "bench/zone: $runs run(s) done in $SECONDS s" >&2

# summarize FILE...: `name min median max unit` for each figure of the `name value unit`
# files, in the order the program prints them (line number, then value, sorted).
summarize() {
  awk '{ print FNR, $0 }' "$@" | sort -k1,1n -k3,3g | awk '
    function flush(  med, d) {
      if (!n) return
      if (n % 2) med = v[(n + 1) / 2]
      else { d = index(v[1], ".") ? length(v[1]) - index(v[1], ".") : 0
             med = sprintf("%." d "f", (v[n / 2] + v[n / 2 + 1]) / 2) }
      print name, v[1], med, v[n], unit; n = 0
    }
    $2 != name { flush(); name = $2; unit = $4 }
    { v[++n] = $3 }
    END { flush() }'
}
summarize "$tmp"/zone.*.txt >"$tmp/zone.sum"
summarize "$tmp"/direct.*.txt >"$tmp/direct.sum"
summarize "$tmp"/reg.*.txt >"$tmp/reg.sum"
summarize "$tmp"/fixed.*.txt >"$tmp/fixed.sum"
summarize "$tmp"/ring.*.txt >"$tmp/ring.sum"
[ "$backend" != sim ] || summarize "$tmp"/floor.*.txt >"$tmp/floor.sum"
[ -z "$bulk" ] || summarize "$tmp"/bulk.*.txt >"$tmp/bulk.sum"
[ -z "$threads" ] || summarize "$tmp"/threads.*.txt >"$tmp/threads.sum"

# The table and the goals, from the two summaries (direct first, then through vgpu).
report_body() {
  awk -v floorf="$tmp/floor.sum" '
    BEGIN { while ((getline l < floorf) > 0) { split(l, a, " "); fmed[a[1]] = a[3] } }
    NR == FNR { dmin[$1] = $2; dmed[$1] = $3; dmax[$1] = $4; next }
    { order[++n] = $1; zmin[$1] = $2; zmed[$1] = $3; zmax[$1] = $4; unit[$1] = $5 }
    function ratio(k) { return dmed[k] > 0 ? zmed[k] / dmed[k] : 0 }
    function kib(k,  s) { s = k; sub(/KiB$/, "", s); sub(/.*_/, "", s); return s + 0 }
    function size(k,  s) { s = kib(k); return s >= 1024 ? s / 1024 " MiB" : s " KiB" }
    function verdict(ok) { return ok ? "met" : "**not met**" }
    # Bandwidth goal: every figure matching re at >= min_kib has a ratio of medians >= want.
    function bw_goal(what, re, min_kib, want,  i, k, list, ok) {
      ok = 1; list = ""
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (k !~ re || kib(k) < min_kib || !(k in dmed)) continue
        list = list (list ? ", " : "") sprintf("%s %s %.2fx", substr(k, 1, 4) == "htod" ? "HtoD" : "DtoH", size(k), ratio(k))
        if (ratio(k) < want) ok = 0
      }
      if (list == "") { list = "no figures"; ok = 0 }
      printf "| %s | %s | %s |\n", what, list, verdict(ok)
    }
    # Small-copy goal: time through vgpu <= want x (trivial call through vgpu + direct copy time).
    function lat_goal(what, prefix, want,  i, k, tz, td, tc, list, ok) {
      ok = 1; list = ""; tc = zmed["trivial_call_ns"] / 1000
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (k !~ "^" prefix "[0-9]+KiB$" || kib(k) > 64 || !(k in dmed) || zmed[k] <= 0 || dmed[k] <= 0) continue
        tz = kib(k) * 1024 / (zmed[k] * 1000); td = kib(k) * 1024 / (dmed[k] * 1000)
        list = list (list ? "; " : "") sprintf("%s: %.1f us vs %.2f + %.1f us = %.2fx", size(k), tz, tc, td, tz / (tc + td))
        if (fmed[k] > 0) list = list sprintf(" (two-core floor %.1f us)", kib(k) * 1024 / (fmed[k] * 1000))
        if (tz > want * (tc + td)) ok = 0
      }
      if (list == "") { list = "no figures"; ok = 0 }
      printf "| %s | %s | %s |\n", what, list, verdict(ok)
    }
    END {
      print "| measurement | through vgpu min/median/max | direct min/median/max | ratio of medians |"
      print "|---|---:|---:|---:|"
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (!(k in dmed)) continue
        printf "| %s | %s / **%s** / %s %s | %s / **%s** / %s %s | %.2fx |\n", k, zmin[k], zmed[k], zmax[k], unit[k],
          dmin[k], dmed[k], dmax[k], unit[k], ratio(k)
      }
      print ""
      print "## Goals"
      print ""
      print "From the medians above (through vgpu / direct; for the small copies, time per copy)."
      print ""
      print "| goal | figures | |"
      print "|---|---|---|"
      bw_goal("Pinned HtoD/DtoH at >= 1 MiB: >= 0.9x direct", "^(htod|dtoh)_pinned_[0-9]+KiB$", 1024, 0.9)
      bw_goal("Registered (cuMemHostRegister) HtoD/DtoH at >= 1 MiB, as pinned: >= 0.9x direct", "^(htod|dtoh)_registered_[0-9]+KiB$", 1024, 0.9)
      bw_goal("Pageable HtoD/DtoH at >= 4 MiB: >= 0.8x direct", "^(htod|dtoh)_[0-9]+KiB$", 4096, 0.8)
      lat_goal("DtoH 4 and 64 KiB, pageable: <= 2x (trivial call through vgpu + direct copy)", "dtoh_", 2)
      lat_goal("DtoH 4 and 64 KiB, pinned: <= 2x (trivial call through vgpu + direct copy)", "dtoh_pinned_", 2)
      # Pageable goals the host itself rules out: the two-core floor (below) already misses them.
      out = ""
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (k !~ "^(htod|dtoh)_[0-9]+KiB$" || !(k in dmed) || !(fmed[k] > 0) || !(zmed[k] > 0)) continue
        if (kib(k) >= 4096 && fmed[k] / dmed[k] < 0.8)
          out = out (out ? ", " : "") sprintf("%s %s: floor %.2fx direct, through vgpu %.2fx the floor", substr(k, 1, 4) == "htod" ? "HtoD" : "DtoH", size(k), fmed[k] / dmed[k], zmed[k] / fmed[k])
        if (k ~ /^dtoh/ && kib(k) <= 64 && 1024 * kib(k) / (fmed[k] * 1000) > 2 * (zmed["trivial_call_ns"] / 1000 + 1024 * kib(k) / (dmed[k] * 1000)))
          out = out (out ? ", " : "") sprintf("DtoH %s: the floor alone takes %.1f us, through vgpu %.2fx its time", size(k), 1024 * kib(k) / (fmed[k] * 1000), fmed[k] / zmed[k])
      }
      if (out != "") {
        print ""
        print "Out of reach on this host of any copy of pageable memory between two processes (the two-core floor, below, misses the goal itself): " out "."
      }
    }' "$tmp/direct.sum" "$tmp/zone.sum"
}

med() { awk -v k="$2" '$1 == k { print $3 }' "$1"; }
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
ring=$(med "$tmp/ring.sum" ring_rtt_us)
{
  echo "# End-to-end benchmark (\`make bench\`, bench/zone.sh)"
  echo
  echo "bench/zone as a zone (libvgpu -> ring -> vgpu-proxy -> $backend backend) and directly on the"
  echo "same backend in-process, $runs run(s) of each${quick:+ (--quick)}, alternating (odd runs start with the zone,"
  echo "even runs with direct). Each run's figure is the best of the repetitions inside bench/zone;"
  echo "the table gives min / **median** / max over the runs, and the ratio of the medians ="
  echo "through vgpu / direct: for times lower is better, for rates and bandwidths higher is better."
  echo "CPU: $cpu, $(nproc) CPUs. Backend: $backend."
  echo
  report_body
  echo
  echo "Bare ring round trip (bench/ring, 64 B, spinning), median of one per run: ${ring:-?} us;"
  awk -v t="$(med "$tmp/zone.sum" trivial_call_ns)" -v r="${ring:-0}" \
    'BEGIN { if (r > 0) printf "trivial call through vgpu = %.2fx the bare ring round trip (medians; goal <= 2x).\n", t / 1000 / r }'
  echo
  awk -v a="$(med "$tmp/zone.sum" alloc_free_ns)" -v g="$(med "$tmp/reg.sum" alloc_free_ns)" 'BEGIN { if (a > 0)
    printf "alloc+free in a registered zone (shared budget, proxy/pool.c): median %s ns vs %s ns unregistered in the same runs = %.2fx.\n", g, a, g / a }'
  awk -v a="$(med "$tmp/zone.sum" alloc_free_ns)" -v g="$(med "$tmp/fixed.sum" alloc_free_ns)" 'BEGIN { if (a > 0 && g > 0)
    printf "alloc+free of 1 MiB with --device-va fixed (a granule of its own, reserved, backed and mapped once, then kept idle between a free and the next allocation of its size): median %s ns vs %s ns placed by the driver in the same runs = %.2fx.\n", g, a, g / a }'
  awk -v a="$(med "$tmp/zone.sum" alloc_free_async_ns)" -v g="$(med "$tmp/fixed.sum" alloc_free_async_ns)" 'BEGIN { if (a > 0 && g > 0)
    printf "stream-ordered alloc+free of 64 KiB (cuMemAllocAsync, cuMemFreeAsync, the stream waited for after each 100) with --device-va fixed (units of a slab, each free behind an event on the stream): median %s ns vs %s ns from the driver'"'"'s pool in the same runs = %.2fx.\n", g, a, g / a }'
  if [ -s "$tmp/floor.sum" ]; then
    echo
    echo "## Pageable copies against the two-core floor"
    echo
    echo "bench/handoff, once per run beside bench/zone: the same copies' bytes moved by two threads, each"
    echo "bound to a core, through a 1 MiB shared area in 256 KiB chunks (the zone's bulk area and the"
    echo "worker's driver copies), a request and its answer as two flags, nothing of vgpu's in between:"
    echo "what any copy of pageable memory between two processes through shared memory pays on this"
    echo "host at least. Floor / direct below the goal means no such design meets it here; through"
    echo "vgpu / floor is what vgpu itself adds. Medians of the same runs."
    echo
    echo "| copy | through vgpu | floor | direct | through vgpu / floor | floor / direct |"
    echo "|---|---:|---:|---:|---:|---:|"
    awk 'FILENAME == ARGV[1] { d[$1] = $3; next } FILENAME == ARGV[2] { f[$1] = $3; next }
      ($1 in f) && f[$1] > 0 && d[$1] > 0 {
        printf "| %s | %s %s | %s %s | %s %s | %.2fx | %.2fx |\n", $1, $3, $5, f[$1], $5, d[$1], $5, $3 / f[$1], f[$1] / d[$1] }' \
      "$tmp/direct.sum" "$tmp/floor.sum" "$tmp/zone.sum"
  fi
  # variant LABEL FILE: the pageable copies of a variant against the default and direct
  variant() {
    echo "| measurement | $1 min/median/max | default median | $1 / default | $1 / direct |"
    echo "|---|---:|---:|---:|---:|"
    awk 'FILENAME == ARGV[1] { d[$1] = $3; next } FILENAME == ARGV[2] { z[$1] = $3; next }
      ($1 in z) && z[$1] > 0 && d[$1] > 0 {
        printf "| %s | %s / **%s** / %s %s | %s %s | %.2fx | %.2fx |\n", $1, $2, $3, $4, $5, z[$1], $5, $3 / z[$1], $3 / d[$1] }' \
      "$tmp/direct.sum" "$tmp/zone.sum" "$2"
  }
  if [ -n "$bulk" ]; then
    echo
    echo "## Pageable copies with a $bulk KiB bulk area"
    echo
    echo "Through vgpu with VGPU_BULK_KIB=$bulk (bench/zone --pageable-only, once per run) against"
    echo "the default area and against direct, medians of the same runs."
    echo
    variant "$bulk KiB area" "$tmp/bulk.sum"
  fi
  if [ -n "$threads" ]; then
    echo
    echo "## Pageable copies with $threads helper threads"
    echo
    echo "Through vgpu with VGPU_COPY_THREADS=$threads (bench/zone --pageable-only, once per run) against"
    echo "the default (the calling thread alone; $(getconf _NPROCESSORS_ONLN) CPUs here) and against direct, medians of the same runs."
    echo
    variant "$threads helpers" "$tmp/threads.sum"
  fi
} >"$tmp/report.md"
cat "$tmp/report.md"
if [ -n "$write" ]; then cp "$tmp/report.md" "$out"; echo "(written to $out)"; fi
