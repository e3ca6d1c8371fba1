#!/bin/sh
# SPDX-License-Identifier: MIT
# The hostile-request test of vgpu-proxy against the CPU simulator (skips until libcudasim.so is built).
exec "${VGPU_BUILD:-build/san}/tests/proxy/test_hostile" --sim
