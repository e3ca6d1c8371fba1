#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Golden tests of vgpu-codegen: fixture header + specs under tests/codegen/fixtures.
#   NAME.spec + NAME.expected/  must succeed and produce exactly the files in NAME.expected/
#   NAME.spec + NAME.err        must fail (exit 1) with exactly NAME.err on stderr
set -u
if [ "${1:-}" = "--help" ]; then
  echo "usage: golden.sh   (cwd = repo root, VGPU_BUILD = build dir holding codegen/vgpu-codegen)"
  echo "To accept new output of a good fixture after reviewing it: GOLDEN_UPDATE=1 golden.sh"
  exit 0
fi
cg=${VGPU_BUILD:-build/rel}/codegen/vgpu-codegen
fx=tests/codegen/fixtures
if [ ! -x "$cg" ]; then echo "golden: $cg not built"; exit 1; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
# the command line itself
if ! "$cg" --help | grep -q '^usage: vgpu-codegen'; then echo "FAIL --help"; fail=1; fi
if ! "$cg" --version | grep -qx 'vgpu-codegen [0-9][0-9.]*'; then echo "FAIL --version"; fail=1; fi
"$cg" --bogus 2>/dev/null; if [ $? -ne 2 ]; then echo "FAIL: an unknown option must exit 2"; fail=1; fi
"$cg" --out "$tmp/missing" 2>/dev/null; if [ $? -ne 2 ]; then echo "FAIL: a missing output directory must exit 2"; fail=1; fi
for spec in "$fx"/*.spec; do
  name=$(basename "$spec" .spec); n=$((n+1))
  out="$tmp/$name"; mkdir -p "$out"
  "$cg" --quiet --header "$fx/api.h" --spec "$spec" --out "$out" 2>"$tmp/$name.stderr"
  rc=$?
  if [ -d "$fx/$name.expected" ] || [ -n "${GOLDEN_UPDATE:-}" -a ! -f "$fx/$name.err" ]; then
    if [ $rc -ne 0 ]; then
      echo "FAIL $name: exit $rc, expected success:"; cat "$tmp/$name.stderr"; fail=1; continue
    fi
    if [ -n "${GOLDEN_UPDATE:-}" ]; then rm -rf "$fx/$name.expected"; cp -r "$out" "$fx/$name.expected"; fi
    if ! diff -r -u "$fx/$name.expected" "$out"; then echo "FAIL $name: output differs from $fx/$name.expected"; fail=1; continue; fi
  elif [ -f "$fx/$name.err" ]; then
    if [ $rc -ne 1 ]; then echo "FAIL $name: exit $rc, expected 1"; cat "$tmp/$name.stderr"; fail=1; continue; fi
    if ! diff -u "$fx/$name.err" "$tmp/$name.stderr"; then echo "FAIL $name: stderr differs from $fx/$name.err"; fail=1; continue; fi
  else
    echo "FAIL $name: neither $name.expected/ nor $name.err"; fail=1; continue
  fi
  echo "ok   $name"
done
echo "$n fixtures"
exit $fail
