#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# FFmpeg (Debian's, unmodified) with its CUDA filters, directly and as a zone. FFmpeg loads
# the driver with dlopen and resolves ~70 entry points at start (the OpenGL interop ones among
# them: without them "-init_hw_device cuda" failed), loads its filters' PTX with
# cuModuleLoadData, uploads frames with 2D copies into pitched memory, samples them through
# texture objects over that memory (point, bilinear, bicubic, Lanczos; read as integers with a
# linear filter in thumbnail_cuda) and downloads the results. Each chain's output must be the
# same byte for byte directly and through vgpu, and close to what FFmpeg's CPU filters make.
set -u
usage() {
  cat <<EOF
usage: tests/gpu/ffmpeg.sh [--out DIR]
Runs FFmpeg filter chains with hwupload_cuda, scale_cuda (four interpolations, 8-, 10- and
16-bit planes, a pixel format change), overlay_cuda, chromakey_cuda, yadif_cuda and thumbnail_cuda on a synthetic video, directly on
the backend and through libvgpu + vgpu-proxy; checks that both make the same bytes and that
each matches the CPU filter's output (a format change exactly, resampling and blending to
30 dB PSNR or better, as many pixels keyed as the CPU's filter, within 10 %, the thumbnail one of the input frames). With --out, the outputs are kept.
Environment: VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND (default cuda; sim: the simulator),
FFMPEG (default ffmpeg), FFMPEG_TIMEOUT (seconds per run, default 120).
Exit: 0 pass, 1 fail, 77 skip (FFmpeg or its CUDA filters are not installed; the last line says why).
EOF
}
out=
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    *) echo "ffmpeg.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
ff=${FFMPEG:-ffmpeg}
limit=${FFMPEG_TIMEOUT:-120}
OUT_DIR=$out

if ! command -v "$ff" >/dev/null; then
  echo "skip: $ff is not installed (Debian's ffmpeg package: deploy/deps.sh installs it)"
  exit 77
fi
if ! "$ff" -hide_banner -filters 2>/dev/null | grep -q ' scale_cuda '; then
  echo "skip: $ff has no CUDA filters (it was built without them)"
  exit 77
fi

. tests/gpu/app_lib.sh
app_start ffmpeg
tmp=$APP_TMP
src="-f lavfi -i testsrc=size=320x240:rate=10"
ovl="-f lavfi -i testsrc2=size=64x64:rate=10"
q=(-hide_banner -loglevel error -nostdin)
hw=(-init_hw_device cuda=cu:0 -filter_hw_device cu)

# name | frames | output size and pixel format | CUDA chain | CPU chain (the reference) | check
# (the Lanczos chain's input is blurred first: this FFmpeg's scale_cuda converts its Lanczos sums
# to 8 bits without clamping, so an overshoot past 255 at a hard edge wraps to a small value,
# on a GPU as on the simulator, where the CPU's scaler clamps)
chains=(
  "scale_bicubic|5|160x120 yuv420p|[0:v]format=yuv420p,hwupload_cuda,scale_cuda=160:120:interp_algo=bicubic,hwdownload,format=yuv420p|[0:v]format=yuv420p,scale=160:120:flags=bicubic|psnr"
  "scale_lanczos_nv12|3|200x150 nv12|[0:v]gblur=sigma=1.5,format=nv12,hwupload_cuda,scale_cuda=200:150:interp_algo=lanczos,hwdownload,format=nv12|[0:v]gblur=sigma=1.5,format=nv12,scale=200:150:flags=lanczos|psnr"
  "scale_p010|2|160x120 p010le|[0:v]format=p010le,hwupload_cuda,scale_cuda=160:120:interp_algo=bicubic,hwdownload,format=p010le|[0:v]format=p010le,scale=160:120:flags=bicubic|psnr"
  "scale_444p16|2|160x120 yuv444p16le|[0:v]format=yuv444p16le,hwupload_cuda,scale_cuda=160:120:interp_algo=bilinear,hwdownload,format=yuv444p16le|[0:v]format=yuv444p16le,scale=160:120:flags=bilinear|psnr"
  "scale_nearest_444|3|640x480 yuv444p|[0:v]format=yuv444p,hwupload_cuda,scale_cuda=640:480:interp_algo=nearest,hwdownload,format=yuv444p|[0:v]format=yuv444p,scale=640:480:flags=neighbor|psnr"
  "format_nv12|3|320x240 nv12|[0:v]format=yuv420p,hwupload_cuda,scale_cuda=format=nv12,hwdownload,format=nv12|[0:v]format=yuv420p,format=nv12|exact"
  "overlay|3|320x240 yuv420p|[0:v]format=yuv420p,hwupload_cuda[a];[1:v]format=yuv420p,hwupload_cuda[b];[a][b]overlay_cuda=x=10:y=20,hwdownload,format=yuv420p|[0:v]format=yuv420p[a];[1:v]format=yuv420p[b];[a][b]overlay=x=10:y=20|psnr"
  "chromakey|2|320x240 yuva420p|[0:v]format=yuva420p,hwupload_cuda,chromakey_cuda=color=0x00ff00:similarity=0.3,hwdownload,format=yuva420p|[0:v]format=yuva420p,chromakey=color=0x00ff00:similarity=0.3|keyed"
  "yadif|4|320x240 yuv420p|[0:v]format=yuv420p,hwupload_cuda,yadif_cuda,hwdownload,format=yuv420p|[0:v]format=yuv420p,yadif|psnr"
  "thumbnail|1|320x240 yuv420p|[0:v]format=yuv420p,hwupload_cuda,thumbnail_cuda=n=8,hwdownload,format=yuv420p|[0:v]format=yuv420p|oneof"
)

ffrun() { # ffrun OUTFILE ERRFILE FRAMES FILTER [ENV...]: FFmpeg on the synthetic inputs
  local o=$1 e=$2 n=$3 f=$4; shift 4
  # shellcheck disable=SC2086  # (the inputs' options, split on purpose)
  env "$@" timeout --kill-after=5 "$limit" "$ff" "${q[@]}" "${hw[@]}" $src $ovl -frames:v "$n" \
    -filter_complex "$f" -f rawvideo -y "$o" 2>"$e"
}

psnr() { # psnr A B SIZE PIXFMT: the average PSNR of two raw videos, in dB ("inf" when equal)
  # (the summary is an info line)
  "$ff" -hide_banner -nostdin -f rawvideo -s "$3" -pix_fmt "$4" -i "$1" -f rawvideo -s "$3" -pix_fmt "$4" -i "$2" \
    -lavfi psnr -f null - 2>&1 | sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' | tail -n 1
}

for c in "${chains[@]}"; do
  IFS='|' read -r name frames fmt cuda cpu check <<<"$c"
  size=${fmt% *} pix=${fmt#* }
  d=$tmp/$name
  mkdir -p "$d"
  ffrun "$d/direct.raw" "$d/direct.err" "$frames" "$cuda" "${APP_DIRECT_ENV[@]}"; rd=$?
  ffrun "$d/vgpu.raw" "$d/vgpu.err" "$frames" "$cuda" "${APP_VGPU_ENV[@]}"; rv=$?
  # shellcheck disable=SC2086
  "$ff" "${q[@]}" $src $ovl -frames:v "$frames" -filter_complex "$cpu" -f rawvideo -y "$d/cpu.raw" 2>"$d/cpu.err"
  verdict=
  if [ $rd -ne 0 ] || [ $rv -ne 0 ]; then
    app_fail "$name: FFmpeg exited $rd directly, $rv through vgpu: $(tail -n 1 "$d/direct.err") / $(tail -n 1 "$d/vgpu.err")"
  elif ! cmp -s "$d/direct.raw" "$d/vgpu.raw"; then
    app_fail "$name: the output through vgpu differs from the direct one"
  else
    case $check in
      exact) cmp -s "$d/direct.raw" "$d/cpu.raw" && verdict="the same bytes as the CPU's" ||
               app_fail "$name: the CUDA output differs from the CPU's" ;;
      psnr) p=$(psnr "$d/direct.raw" "$d/cpu.raw" "$size" "$pix")
            if [ "$p" = inf ] || awk -v p="$p" 'BEGIN { exit !(p + 0 >= 30) }'; then
              verdict="PSNR ${p} dB against the CPU's"
            else
              app_fail "$name: PSNR ${p:-none} dB against the CPU's output, below 30"
            fi ;;
      keyed) # FFmpeg's CUDA key samples the frame through a linearly filtered texture at texel
             # corners (each pixel half its left neighbour's) and weighs chroma its own way, so
             # it keys about as many pixels as the CPU's filter, not the same ones
             k=$(python3 -c '
import sys
w, h, n = (int(v) for v in sys.argv[1:4])
counts = []
for f in sys.argv[4:6]:
    d = open(f, "rb").read()
    fs = w * h * 5 // 2
    counts.append(sum(d[i * fs + w * h * 3 // 2:(i + 1) * fs].count(0) for i in range(n)))
print(*counts)' "${size%x*}" "${size#*x}" "$frames" "$d/direct.raw" "$d/cpu.raw")
             read -r kg kc <<<"$k"
             if [ -n "$kc" ] && [ "$kc" -gt 0 ] && [ $(( (kg - kc) * (kg - kc) * 100 )) -le $(( kc * kc )) ]; then
               verdict="$kg pixels keyed, the CPU's filter $kc (within 10 %)"
             else
               app_fail "$name: ${kg:-no} pixels keyed against the CPU's ${kc:-none} (more than 10 % apart)"
             fi ;;
      oneof) fs=$(stat -c %s "$d/direct.raw")
             n=$(stat -c %s "$d/cpu.raw")
             # shellcheck disable=SC2086
             "$ff" "${q[@]}" $src -frames:v 8 -vf format=yuv420p -f rawvideo -y "$d/inputs.raw" 2>/dev/null
             pick=
             for i in 0 1 2 3 4 5 6 7; do
               if cmp -s "$d/direct.raw" <(tail -c +$((i * fs + 1)) "$d/inputs.raw" | head -c "$fs"); then pick=$i; fi
             done
             [ "$n" -gt 0 ] && [ -n "$pick" ] && verdict="input frame $pick of 8" ||
               app_fail "$name: the thumbnail is none of the 8 input frames" ;;
    esac
  fi
  [ -n "$verdict" ] && echo "ok: $name: $fmt, the same bytes directly and through vgpu, $verdict"
  grep -v '^\s*$' "$d/vgpu.err" | sed 's/^/   stderr | /' | head -n 5
  [ -n "$out" ] && { mkdir -p "$out"; cp "$d/direct.err" "$out/$name.direct.err"; cp "$d/vgpu.err" "$out/$name.vgpu.err"; }
done
app_finish "FFmpeg's CUDA filters made the same frames directly and through vgpu, each close to the CPU's"
