#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PyTorch through vgpu: tests/gpu/pytorch_step.py directly on the real driver and as a zone
# (libvgpu as libcuda.so.1 -> a private vgpu-proxy --backend cuda); the losses must agree and
# the median step times are compared.
set -u
usage() {
  cat <<EOF
usage: tests/gpu/pytorch_compare.sh [--out DIR] [--steps N] [--calls]
Runs tests/gpu/pytorch_step.py --device cuda directly and through libvgpu + vgpu-proxy; PASS
when both finish and every loss agrees within a relative 1e-3. Prints what torch.cuda
reports through vgpu (is_available, device_count, NVML) and the step time ratio. With --out,
the outputs and a summary (DIR/pytorch.txt) are kept in DIR. Then 5 steps run through vgpu
with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True, whose losses must be the direct run's
(the allocator's virtual memory, asked for with POSIX descriptors). --calls also runs 5 steps through
vgpu with VGPU_TRACE and lists the calls each step sends, and which wait for a reply
(bench/trace_calls.py; DIR/calls.txt): where the time through vgpu goes. Then
tests/gpu/pytorch_ipc.py shares a CUDA tensor between two processes both ways
(torch.multiprocessing: IPC handles), directly and through vgpu as zones of one registration.
Environment: PYTHON (default python3), VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND
(default cuda; sim skips), PYTORCH_TIMEOUT (seconds per run, default 150).
Exit: 0 pass, 1 fail, 77 skip (no importable torch, no GPU; the last line says why).
EOF
}
out=; steps=30; calls=
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --steps) steps=${2:?--steps needs a number}; shift 2 ;;
    --calls) calls=1; shift ;;
    *) echo "pytorch_compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
py=${PYTHON:-python3}
B=${VGPU_BUILD:-build/rel}
backend=${VGPU_E2E_BACKEND:-cuda}
limit=${PYTORCH_TIMEOUT:-150}
step=tests/gpu/pytorch_step.py

if ! why=$("$py" -c "import torch" 2>&1); then
  echo "skip: $py cannot import torch ($(echo "$why" | tail -n 1))"
  exit 77
fi
if [ "$backend" = sim ]; then
  echo "skip: PyTorch needs a GPU: the simulator runs PTX only and PyTorch's kernels are SASS"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-torch.XXXXXX")
. tests/proxy_lib.sh
trap 'proxy_cleanup; rm -rf "$tmp"' EXIT
summary=$tmp/pytorch.txt
say() { echo "$*" | tee -a "$summary"; }

run() { # run LABEL [ENV...]   (STEPS from the environment: --steps for this run, default $steps)
  local label=$1; shift
  env "$@" timeout --kill-after=10 "$limit" "$py" "$step" --device cuda --steps "${STEPS:-$steps}" \
    >"$tmp/$label.out" 2>"$tmp/$label.err"
  rc=$?
  echo "== $label: exit $rc"
  grep -v ' step ' "$tmp/$label.out" | sed 's/^/   stdout | /'
  grep -v '^\s*$' "$tmp/$label.err" | tail -n 12 | sed 's/^/   stderr | /'
}

run direct
case $rc in
  0) ;;
  3) echo "skip: torch sees no CUDA device directly ($(tail -n 1 "$tmp/direct.err"))"; exit 77 ;;
  *) echo "FAIL: pytorch_step.py failed directly on the driver (exit $rc)"; exit 1 ;;
esac

proxy_start "$B" "$backend" --log-level info || exit 1
run vgpu VGPU_PROXY="$PROXY_SOCK" LD_LIBRARY_PATH="$PWD/$B/libvgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
vrc=$rc

field() { grep -h "$1" "$2" | head -n 1; }
say "torch: $(field '^torch ' "$tmp/direct.err")"
say "device: $(field '^device: ' "$tmp/direct.err" | sed 's/^device: //')"
say "direct: $(field 'is_available' "$tmp/direct.out"); $(field '^NVML' "$tmp/direct.err")"
say "through vgpu: $(field 'is_available' "$tmp/vgpu.out" || true); $(field '^NVML' "$tmp/vgpu.err" || true)"
say "through vgpu: pytorch_step.py exit $vrc"

fail=0
if [ $vrc -ne 0 ]; then
  say "result: FAIL: through vgpu it exited $vrc; last lines: $(grep -v '^\s*$' "$tmp/vgpu.err" | tail -n 3 | tr '\n' ' ')"
  fail=1
else
  # every "NAME step I loss X" of one run against the other's, relative tolerance 1e-3
  cmp=$(awk '
    FNR == NR { if ($2 == "step") want[$1 " " $3] = $5; next }
    $2 == "step" {
      k = $1 " " $3; n++
      if (!(k in want)) { missing++; next }
      d = $5 - want[k]; if (d < 0) d = -d
      m = want[k] < 0 ? -want[k] : want[k]; r = d / (m > 1e-12 ? m : 1e-12)
      if (r > worst) worst = r
      if (r > 1e-3) bad++
      seen[k] = 1
    }
    END {
      for (k in want) if (!(k in seen)) missing++
      printf "%d %d %d %.3g\n", n, bad, missing, worst
    }' "$tmp/direct.out" "$tmp/vgpu.out")
  read -r n bad missing worst <<<"$cmp"
  if [ "$n" -eq 0 ] || [ "$bad" -ne 0 ] || [ "$missing" -ne 0 ]; then
    say "losses: FAIL: $n compared, $bad beyond a relative 1e-3, $missing missing; largest relative difference $worst"
    diff -u "$tmp/direct.out" "$tmp/vgpu.out" | head -n 40
    fail=1
  else
    say "losses: $n steps agree (largest relative difference $worst, tolerance 1e-3)"
  fi
  dt=$(sed -n 's/^step_time_ms //p' "$tmp/direct.err"); vt=$(sed -n 's/^step_time_ms //p' "$tmp/vgpu.err")
  for m in conv mlp; do
    d=$(tr ' ' '\n' <<<"$dt" | sed -n "s/^$m=//p"); v=$(tr ' ' '\n' <<<"$vt" | sed -n "s/^$m=//p")
    say "step time $m: direct ${d:-?} ms, through vgpu ${v:-?} ms, ratio $(awk -v a="${v:-0}" -v b="${d:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
  done
fi

# PyTorch's expandable segments (PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True, common for
# large models): the allocator maps its memory with the virtual memory calls and asks for a
# POSIX descriptor for each piece, which a zone's proxy makes without one. 5 steps of each
# model through vgpu; their losses must be the direct run's.
if [ $vrc -eq 0 ]; then
  STEPS=5 run expandable PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True VGPU_PROXY="$PROXY_SOCK" \
    LD_LIBRARY_PATH="$PWD/$B/libvgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ $rc -ne 0 ]; then
    say "expandable segments through vgpu: FAIL: exit $rc; last lines: $(grep -v '^\s*$' "$tmp/expandable.err" | tail -n 3 | tr '\n' ' ')"
    fail=1
  else
    read -r n bad <<<"$(awk '
      FNR == NR { if ($2 == "step") want[$1 " " $3] = $5; next }
      $2 == "step" && ($1 " " $3) in want {
        n++; d = $5 - want[$1 " " $3]; if (d < 0) d = -d
        m = want[$1 " " $3]; if (m < 0) m = -m
        if (d > 1e-3 * (m > 1e-12 ? m : 1e-12)) bad++
      }
      END { printf "%d %d\n", n, bad }' "$tmp/direct.out" "$tmp/expandable.out")"
    if [ "$n" -eq 0 ] || [ "$bad" -ne 0 ]; then
      say "expandable segments through vgpu: FAIL: $n steps compared, $bad beyond a relative 1e-3"; fail=1
    else
      say "expandable segments through vgpu: $n steps agree with the direct run"
    fi
  fi
fi

# A CUDA tensor shared between processes (torch.multiprocessing: IPC memory and event
# handles), directly and through vgpu as two zones of one registration.
ipc() { # ipc LABEL [ENV...]
  local label=$1; shift
  env "$@" timeout --kill-after=10 "$limit" "$py" tests/gpu/pytorch_ipc.py >"$tmp/$label.out" 2>"$tmp/$label.err"
  rc=$?
  echo "== $label: exit $rc"; sed 's/^/   stdout | /' "$tmp/$label.out"
  grep -v '^\s*$' "$tmp/$label.err" | tail -n 8 | sed 's/^/   stderr | /'
}
if [ $vrc -eq 0 ]; then
  ipc ipc-direct
  drc=$rc
  token=$("$B/proxy/vgpuctl" --listen "$PROXY_SOCK" register torch-ipc) || token=
  ipc ipc-vgpu VGPU_ZONE_TOKEN="$token" VGPU_PROXY="$PROXY_SOCK" \
    LD_LIBRARY_PATH="$PWD/$B/libvgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ $drc -ne 0 ]; then
    say "tensor shared between processes: directly the script failed (exit $drc), not judged through vgpu"
  elif [ -z "$token" ] || [ $rc -ne 0 ]; then
    say "tensor shared between processes through vgpu: FAIL: exit $rc; last lines: $(grep -v '^\s*$' "$tmp/ipc-vgpu.err" | tail -n 3 | tr '\n' ' ')"
    fail=1
  else
    say "tensor shared between processes (torch.multiprocessing, IPC handles) through vgpu: both ways verified"
  fi
fi

if [ -n "$calls" ] && [ $vrc -eq 0 ]; then
  # 5 steps of each of the two models: the counts per step include the set-up's calls / 10
  STEPS=5 run trace VGPU_TRACE="$tmp/vgpu.trace" VGPU_PROXY="$PROXY_SOCK" \
    LD_LIBRARY_PATH="$PWD/$B/libvgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ $rc -eq 0 ] && python3 bench/trace_calls.py --per 10 --top 25 "$tmp/vgpu.trace" >"$tmp/calls.txt"; then
    say "calls per step through vgpu (5 steps of each model, set-up included): $(head -n 1 "$tmp/calls.txt")"
  else
    say "calls per step: the traced run failed (exit $rc)"
  fi
  rm -f "$tmp/vgpu.trace"
fi

proxy_stop; prc=$?
if [ $prc -ne 0 ]; then say "vgpu-proxy exited $prc on SIGTERM"; fail=1; fi
if [ -n "$out" ]; then
  mkdir -p "$out"
  for f in direct.out direct.err vgpu.out vgpu.err expandable.out expandable.err ipc-direct.out ipc-direct.err \
           ipc-vgpu.out ipc-vgpu.err pytorch.txt calls.txt; do
    cp "$tmp/$f" "$out/" 2>/dev/null
  done
  cp "$PROXY_LOG" "$out/proxy.log" 2>/dev/null
fi
if [ $fail -ne 0 ]; then
  echo "--- proxy log (last lines):"; tail -n 20 "$PROXY_LOG"
  echo "FAIL: PyTorch through vgpu does not match the direct run"
  exit 1
fi
echo "PASS: PyTorch trains the same through vgpu as directly"
