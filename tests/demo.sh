#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: vgpu-proxy on the real GPU (or the simulator when there is none), zones registered
# by the orchestrator, two of them running CUDA programs at once through libvgpu, their stats,
# an isolation attempt, third-party programs (FFmpeg, hashcat) as zones where installed, and an
# unregistered process refused.
set -u
if [ "${1:-}" = "--help" ] || [ $# -ne 1 ]; then
  echo "usage: tests/demo.sh BUILD_DIR   (e.g. build/rel; run by 'make demo')"
  [ "${1:-}" = "--help" ] && exit 0 || exit 2
fi
B=$1
quota=$((256 << 20))
app=$B/tests/demo/zone_app
kernels=$PWD/$B/tests/kernels/basic.fatbin
for f in "$B/proxy/vgpu-proxy" "$B/proxy/vgpuctl" "$B/libvgpu/libcuda.so.1" "$app" "$kernels"; do
  [ -e "$f" ] || { echo "demo: $f is missing; build with: make B=$B all $app" >&2; exit 1; }
done
. tests/proxy_lib.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. vgpu-proxy starts (Dom0 side); it picks the real NVIDIA driver if a GPU answers, else the simulator"
proxy_start "$B" auto --zone-mem-limit "$quota" --require-registration --log-level info || exit 1
tmp=$PROXY_TMP
sed 's/^/   proxy | /' "$tmp/proxy.log"
if grep -q "simulator" "$tmp/proxy.log"; then
  echo "   (no GPU here: the backend is libcudasim.so, a CPU test double of the CUDA driver)"
fi

export VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu
ctl() { "$B/proxy/vgpuctl" --listen "$PROXY_SOCK" "$@"; }
say "2. the orchestrator registers three zones (vgpuctl, root-only control socket) and hands each its token"
ta=$(ctl register tenant-a --mem "$quota") && tb=$(ctl register tenant-b --mem "$quota") &&
  tc=$(ctl register intruder --mem "$quota") || { echo "demo: vgpuctl register failed"; exit 1; }
ctl list | sed 's/^/   /'

say "3. two zones run unmodified CUDA programs at once, each with libvgpu as its libcuda.so.1"
VGPU_ZONE_TOKEN=$ta "$app" vecadd "$kernels" 12 "$tmp/shared-addr" >"$tmp/a.out" 2>&1 &
a=$!
VGPU_ZONE_TOKEN=$tb "$app" reduce "$kernels" 40 >"$tmp/b.out" 2>&1 &
b=$!
sleep 0.7
say "4. per-zone usage while they run (vgpu-proxy --stats)"
"$B/proxy/vgpu-proxy" --stats --listen "$tmp/proxy.sock" | sed 's/^/   /'
wait $a; ra=$?
wait $b; rb=$?
sed 's/^/   /' "$tmp/a.out" "$tmp/b.out"

say "5. a third zone tries to read tenant-a's device memory and to exceed its $((quota >> 20)) MiB quota"
VGPU_ZONE_TOKEN=$tc "$app" intruder "$kernels" "$tmp/shared-addr" "$quota" >"$tmp/c.out" 2>&1
rc=$?
sed 's/^/   /' "$tmp/c.out"

say "6. a process without a registration token is refused at cuInit"
VGPU_LOG=0 "$app" reduce "$kernels" 1 >"$tmp/d.out" 2>&1
rd=$?
sed 's/^/   /' "$tmp/d.out"
if [ $rd -ne 0 ] && grep -q CUDA_ERROR_NOT_PERMITTED "$tmp/d.out"; then rd=0; else rd=1; fi
say "6b. unmodified third-party programs as zones of a fourth registration (1 GiB): FFmpeg's CUDA filters, hashcat"
rt=0
td=$(ctl register tenant-d --mem 1G) || { echo "demo: vgpuctl register failed"; exit 1; }
proxy_san_env "$B"   # (make test runs the demo over a sanitized build; these programs are not)
if command -v ffmpeg >/dev/null && ffmpeg -hide_banner -filters 2>/dev/null | grep -q ' scale_cuda '; then
  env "${PROXY_SAN_ENV[@]}" VGPU_ZONE_TOKEN=$td ffmpeg -hide_banner -loglevel error -nostdin -init_hw_device cuda=cu:0 -filter_hw_device cu \
    -f lavfi -i testsrc=size=640x480:rate=25 -frames:v 25 \
    -vf "format=nv12,hwupload_cuda,scale_cuda=320:240:interp_algo=bicubic,hwdownload,format=nv12" \
    -f rawvideo -y "$tmp/scaled.nv12" >"$tmp/ff.out" 2>&1
  if [ $? -eq 0 ] && [ "$(stat -c %s "$tmp/scaled.nv12")" = $((320 * 240 * 3 / 2 * 25)) ]; then
    echo "   ffmpeg: 25 frames of 640x480 scaled to 320x240 by scale_cuda in the zone"
  else
    rt=1; sed 's/^/   ffmpeg | /' "$tmp/ff.out"
  fi
else
  echo "   ffmpeg: skipped (Debian's ffmpeg with its CUDA filters is not installed: deploy/deps.sh installs it)"
fi
if command -v hashcat >/dev/null && [ -e "${CUDA_HOME:-/usr/local/cuda}/lib64/libnvrtc.so" ]; then
  mkdir -p "$tmp/hc/home"
  printf %s 4711 | md5sum | cut -d' ' -f1 >"$tmp/hc/hash"
  (cd "$tmp/hc" && env "${PROXY_SAN_ENV[@]}" VGPU_ZONE_TOKEN=$td HOME=$tmp/hc/home XDG_CACHE_HOME=$tmp/hc/home XDG_DATA_HOME=$tmp/hc/home \
     LD_LIBRARY_PATH=$LD_LIBRARY_PATH:${CUDA_HOME:-/usr/local/cuda}/lib64 hashcat -m 0 -a 3 hash '?d?d?d?d' \
     --backend-ignore-opencl --potfile-disable --quiet -n 1 -u 1 --force --outfile cracked --outfile-format 2 \
     >"$tmp/hc.out" 2>&1)
  if [ "$(cat "$tmp/hc/cracked" 2>/dev/null)" = 4711 ]; then
    echo "   hashcat: MD5 $(cat "$tmp/hc/hash") cracked in the zone: 4711 (kernels compiled by NVRTC, run on its CUDA backend)"
  else
    rt=1; tail -n 5 "$tmp/hc.out" | sed 's/^/   hashcat | /'
  fi
else
  echo "   hashcat: skipped (Debian's hashcat, or NVRTC, is not installed: deploy/deps.sh installs hashcat)"
fi

# The orchestrator drops the registrations once the zones have ended on their own.
for _ in $(seq 50); do ctl stats | grep -q '^zones 0$' && break; sleep 0.1; done
for z in tenant-a tenant-b intruder tenant-d; do ctl unregister "$z" >/dev/null || rd=1; done

say "7. the proxy's account of the zones (each freed everything when it ended)"
sleep 0.3
grep -E "registered|connected|freed|refused|exited|killed" "$tmp/proxy.log" | sed 's/^/   proxy | /'
proxy_stop; prc=$?

echo
if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ $rc -eq 0 ] && [ $rd -eq 0 ] && [ $rt -eq 0 ] && [ $prc -eq 0 ]; then
  echo "demo: both zones computed correct results, and the third-party programs theirs; the intruder and the"
  echo "      unregistered process were refused; the proxy stopped cleanly"
else
  echo "demo: FAILED (tenant-a $ra, tenant-b $rb, intruder $rc, unregistered $rd, third-party $rt, proxy $prc)"; exit 1
fi
