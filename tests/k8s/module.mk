# SPDX-License-Identifier: MIT
# The "vgpu" RuntimeClass through the CRI (included by the top-level Makefile):
#   make shim       build containerd-shim-vgpu-v1 into build/shim (offline, Debian's Go packages)
#   make test-k8s   release build of the proxy, libvgpu and the simulator, then tests/k8s/run.sh:
#                   a private containerd with the vgpu handler, pods driven through the CRI
# `make test` runs test-k8s after the unit and end-to-end tests; without root it says why
# and counts as skipped.

.PHONY: shim test-k8s
shim:
	@deploy/shim/build.sh build/shim

test-k8s:
	@deploy/deps.sh --all
	@$(MAKE) --no-print-directory B=build/rel build/rel/proxy/vgpu-proxy build/rel/proxy/vgpuctl \
	  build/rel/libvgpu/libcuda.so.1 build/rel/libvgpu/libnvidia-ml.so.1 build/rel/sim/libcudasim.so
	@deploy/shim/build.sh --test build/shim
	@rc=0; tests/k8s/run.sh build/rel || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-k8s: skipped (see the reason above)"; exit 0; fi; exit $$rc
