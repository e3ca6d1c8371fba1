# SPDX-License-Identifier: MIT
# runtime build rules (included by the top-level Makefile).
#
# The grant ring is a static library other parts link against:
#   $(RING_LIB)   the archive (chan.o, transport_shm.o, transport_xen.o, xenbus.o, drvenv.o)
#   $(RING_LIBS)  the system libraries it needs on the link line after it
# e.g.  $(B)/proxy/vgpu-proxy: ... $(RING_LIB) ; $(CC) ... $^ $(RING_LIBS)

RING_OBJS := $(B)/runtime/chan.o $(B)/runtime/transport_shm.o $(B)/runtime/transport_xen.o $(B)/runtime/xenbus.o \
             $(B)/runtime/drvenv.o
RING_LIB  := $(B)/runtime/libvgpuring.a
RING_LIBS := -lxengnttab -lxenevtchn -lxenstore

$(RING_LIB): $(RING_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

ALL += $(RING_LIB)

# Tests: tests/ring/*.c, each a standalone program linked against the ring library.
RING_TEST_SRCS := $(wildcard tests/ring/*.c)
RING_TESTS     := $(patsubst %.c,$(B)/%,$(RING_TEST_SRCS))

$(B)/tests/ring/%: $(B)/tests/ring/%.o $(RING_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(RING_LIBS)

.SECONDARY: $(RING_TEST_SRCS:%.c=$(B)/%.o)

TESTS += $(RING_TESTS)

.PHONY: test-ring
test-ring: $(RING_TESTS)
	@VGPU_BUILD=$(B) tests/run.sh --timeout 120 $(RING_TESTS)
