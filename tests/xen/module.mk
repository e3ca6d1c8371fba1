# SPDX-License-Identifier: MIT
# tests/xen build rules (included by the top-level Makefile): the Xen transport and the proxy
# for real, in Xen 4.17 booted under QEMU (TCG). tests/xen/run.sh builds the images and runs it.
#
#   make test-xen     release build (build/rel), zone image, Dom0 image, boot, three steps
#
# Not part of `make test`: it needs root, QEMU and the Xen packages, and takes minutes.

XEN_LOOPBACK := $(B)/tests/xen/xen_loopback
XEN_STREAM   := $(B)/tests/xen/zone_stream
XEN_PROGS    := $(XEN_LOOPBACK) $(XEN_STREAM)

$(XEN_LOOPBACK): $(B)/tests/xen/xen_loopback.o $(RING_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(RING_LIBS)

$(XEN_STREAM): $(B)/tests/xen/zone_stream.o $(LIBVGPU)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda

.SECONDARY: $(B)/tests/xen/xen_loopback.o $(B)/tests/xen/zone_stream.o

.PHONY: test-xen xen-progs
# Everything the two images carry: libvgpu, the proxy, the simulator, the ring tests, the
# end-to-end programs and their kernels, and the programs above.
xen-progs: $(ALL) $(RING_TESTS) $(E2E_PROGS) $(E2E_KERNELS) $(XEN_PROGS)

test-xen:
	@$(MAKE) --no-print-directory B=build/rel SAN=0 xen-progs
	@tests/xen/run.sh --build build/rel
