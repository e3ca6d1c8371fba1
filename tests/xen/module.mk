# SPDX-License-Identifier: MIT
# tests/xen build rules (included by the top-level Makefile): the Xen transport and the proxy
# for real, in Xen 4.17 booted under QEMU (TCG). tests/xen/run.sh builds the images and runs it.
#
#   make test-xen     release build (build/rel), zone image, Dom0 image, boot, six steps
#
# `make test` runs it after the unit, end-to-end and Kubernetes tests (about 70 s of QEMU);
# it says SKIP with the reason (exit 77: counted as skipped) where it cannot run (not root).

XEN_LOOPBACK := $(B)/tests/xen/xen_loopback
XEN_STREAM   := $(B)/tests/xen/zone_stream
XEN_GRANTS   := $(B)/tests/xen/zone_grants
XEN_PROGS    := $(XEN_LOOPBACK) $(XEN_STREAM) $(XEN_GRANTS)

$(XEN_LOOPBACK): $(B)/tests/xen/xen_loopback.o $(RING_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(RING_LIBS)

$(XEN_STREAM): $(B)/tests/xen/zone_stream.o $(LIBVGPU)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda

# a hostile client speaking the wire itself (the codec, as tests/adversarial do)
$(XEN_GRANTS): $(B)/tests/xen/zone_grants.o $(ADV_LINK)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(RING_LIBS) -lmsgpackc

.SECONDARY: $(B)/tests/xen/xen_loopback.o $(B)/tests/xen/zone_stream.o $(B)/tests/xen/zone_grants.o

.PHONY: test-xen xen-progs
# Everything the two images carry: libvgpu and its NVML, the proxy and vgpuctl, the
# simulator, the ring tests, the end-to-end programs and their kernels, and the programs above
# (test-k8s needs a subset of it; make test builds it with the sanitized tree).
xen-progs: $(LIBVGPU) $(LIBVGPU_NVML) $(PROXY) $(VGPUCTL) $(SIM_LIB) $(RING_TESTS) $(E2E_PROGS) $(E2E_KERNELS) \
	$(XEN_PROGS)

test-xen:
	@deploy/deps.sh --all
	@$(MAKE) --no-print-directory B=build/rel SAN=0 xen-progs
	@rc=0; tests/xen/run.sh --build build/rel || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-xen: skipped (see the reason above)"; exit 0; fi; exit $$rc
