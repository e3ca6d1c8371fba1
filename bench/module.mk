# SPDX-License-Identifier: MIT
# bench build rules (included by the top-level Makefile).

# bench/ring: grant-ring latency, message rate and bulk bandwidth against baselines.
$(B)/bench/ring: $(B)/bench/ring.o $(RING_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(RING_LIBS)

ALL     += $(B)/bench/ring
BENCHES += $(B)/bench/ring

# bench/zone: an ordinary driver-API program timed through libvgpu+proxy and directly (bench/zone.sh).
$(B)/bench/zone_app: $(B)/bench/zone.o $(LIBVGPU)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda
$(B)/bench/zone.sh: $(B)/bench/zone_app $(B)/bench/handoff bench/zone.sh
	printf '#!/bin/sh\nexec bench/zone.sh "$$@"\n' > $@ && chmod +x $@
ALL     += $(B)/bench/zone_app
# bench/handoff: the floor of a pageable copy between two cores, which bench/zone.sh reports against.
$(B)/bench/handoff: $(B)/bench/handoff.o
	$(CC) $(LDFLAGS) -o $@ $< -pthread
ALL     += $(B)/bench/handoff
BENCHES += $(B)/bench/zone.sh

# The end-to-end benchmark against the real driver, for machines with an NVIDIA GPU.
.PHONY: bench-gpu
bench-gpu:
	@if ! nvidia-smi -L >/dev/null 2>&1; then \
	  echo "bench-gpu: skipped: no NVIDIA GPU here (nvidia-smi -L fails)"; exit 0; fi; \
	$(MAKE) --no-print-directory B=build/rel all build/rel/bench/zone.sh && \
	VGPU_E2E_BACKEND=cuda VGPU_BUILD=build/rel bench/zone.sh --no-write

# bench/migrate.sh: the pause of moving a zone between two proxies, against moving its memory in one process.
$(B)/bench/move_floor: $(B)/bench/move_floor.o $(LIBVGPU)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda
$(B)/bench/migrate.sh: $(B)/bench/move_floor $(B)/tests/restart/stream_app bench/migrate.sh
	printf '#!/bin/sh\nexec bench/migrate.sh "$$@"\n' > $@ && chmod +x $@
ALL     += $(B)/bench/move_floor
BENCHES += $(B)/bench/migrate.sh

# bench/trace_calls.py (where a program's calls go, from a VGPU_TRACE) against a known trace.
TESTS += bench/test_trace_calls.sh
