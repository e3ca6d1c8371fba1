# SPDX-License-Identifier: MIT
# bench build rules (included by the top-level Makefile).

# bench/ring: grant-ring latency, message rate and bulk bandwidth against baselines.
$(B)/bench/ring: $(B)/bench/ring.o $(RING_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(RING_LIBS)

ALL     += $(B)/bench/ring
BENCHES += $(B)/bench/ring
