# SPDX-License-Identifier: MIT
# tests build rules (included by the top-level Makefile): end-to-end and isolation programs.
#
# Each program in tests/e2e/ is an ordinary driver-API program linked against -lcuda; it runs
# through libvgpu + vgpu-proxy and directly on the backend (tests/e2e/run.sh), so every one
# gets a small wrapper script in $(B)/tests/e2e/ that the runner executes.

E2E_NAMES := device memory kernels threads procaddr errors fork legacy_graph vmm tmap batch oldlaunch pinned jit_link queries copy2d nvml answers graph_copies
E2E_PROGS := $(E2E_NAMES:%=$(B)/tests/e2e/%)
E2E_TESTS := $(E2E_NAMES:%=$(B)/tests/e2e/e2e_%.sh)
E2E_KERNELS := $(B)/tests/kernels/basic.ptx $(B)/tests/kernels/basic.fatbin $(B)/tests/kernels/link_a.rdc.ptx \
               $(B)/tests/kernels/link_b.rdc.ptx $(B)/tests/kernels/link_b.rdc.fatbin

$(B)/tests/e2e/%: $(B)/tests/e2e/%.o $(LIBVGPU)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda -lm

$(B)/tests/e2e/e2e_%.sh: $(B)/tests/e2e/% $(E2E_KERNELS) tests/e2e/run.sh
	printf '#!/bin/sh\nexec tests/e2e/run.sh %s\n' $< > $@ && chmod +x $@

.PRECIOUS: $(B)/tests/e2e/%.o $(E2E_PROGS)

TESTS += $(E2E_TESTS)

# The bulk area a zone asks for (VGPU_BULK_KIB): smallest, largest, refused value.
$(B)/tests/e2e/bulk_sizes.sh: $(B)/tests/e2e/memory $(B)/tests/e2e/fork $(E2E_KERNELS) tests/e2e/bulk_sizes.sh
	printf '#!/bin/sh\nexec tests/e2e/bulk_sizes.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/e2e/bulk_sizes.sh

# CUDA_VISIBLE_DEVICES in a zone against the simulator's own reading of it (three devices).
$(B)/tests/e2e/visible_devices.sh: $(B)/tests/e2e/visible $(B)/tests/e2e/nvml $(B)/tests/runtime/devices \
		$(LIBVGPU_NVML) $(PROXY) $(SIM_LIB) tests/e2e/visible_devices.sh
	printf '#!/bin/sh\nexec tests/e2e/visible_devices.sh\n' > $@ && chmod +x $@
.PRECIOUS: $(B)/tests/e2e/visible $(B)/tests/e2e/visible.o
TESTS += $(B)/tests/e2e/visible_devices.sh

# Isolation between zones (tests/isolation/run.sh drives both programs against one proxy).
ISO_PROGS := $(B)/tests/isolation/two_zones $(B)/tests/isolation/cycles $(B)/tests/isolation/zone_hold $(B)/tests/isolation/ipc_zones
$(B)/tests/isolation/%: $(B)/tests/isolation/%.o $(LIBVGPU)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda
$(B)/tests/isolation/isolation.sh: $(ISO_PROGS) $(E2E_KERNELS) tests/isolation/run.sh
	printf '#!/bin/sh\nexec tests/isolation/run.sh\n' > $@ && chmod +x $@
.PRECIOUS: $(B)/tests/isolation/%.o

TESTS += $(B)/tests/isolation/isolation.sh

# Registrations: zones attach only with their own token, with its limits; dropping one ends its zones.
$(B)/tests/isolation/registration.sh: $(ISO_PROGS) $(B)/tests/e2e/device tests/isolation/registration.sh
	printf '#!/bin/sh\nexec tests/isolation/registration.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/isolation/registration.sh

# IPC handles between zones: only within one registration.
$(B)/tests/isolation/ipc.sh: $(ISO_PROGS) $(VGPUCTL) tests/isolation/ipc.sh
	printf '#!/bin/sh\nexec tests/isolation/ipc.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/isolation/ipc.sh

.PHONY: test-e2e test-gpu
test-e2e: $(ALL) $(E2E_TESTS) $(B)/tests/isolation/isolation.sh
	@VGPU_E2E_BACKEND=$(VGPU_E2E_BACKEND) VGPU_BUILD=$(B) tests/run.sh --timeout 300 $(E2E_TESTS) $(B)/tests/isolation/isolation.sh

# The same programs against the real driver, for machines with an NVIDIA GPU; then cuBLAS,
# cuFFT and PyTorch directly and through vgpu (tests/gpu/module.mk). make gpu-check does all
# of it, and the benchmark, from a prebuilt tree and writes one report (docs/GPU.md).
VGPU_E2E_BACKEND ?= sim
test-gpu:
	@if ! nvidia-smi -L >/dev/null 2>&1; then \
	  echo "test-gpu: skipped: no NVIDIA GPU here (nvidia-smi -L fails)"; exit 0; fi; \
	$(MAKE) --no-print-directory B=build/rel VGPU_E2E_BACKEND=cuda test-e2e test-runtime test-gpu-libs

# The demo's tenant program (make demo runs tests/demo.sh).
DEMO_APP := $(B)/tests/demo/zone_app
$(DEMO_APP): $(B)/tests/demo/zone_app.o $(LIBVGPU)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda
ALL += $(DEMO_APP) $(E2E_KERNELS)

# make test runs the demo too (on the simulator: the proxy's auto backend finds no GPU in CI),
# so that `make demo` cannot rot unnoticed.
$(B)/tests/demo/demo.sh: $(DEMO_APP) $(E2E_KERNELS) tests/demo.sh
	printf '#!/bin/sh\nexec tests/demo.sh %s\n' $(B) > $@ && chmod +x $@
TESTS += $(B)/tests/demo/demo.sh

# Zones outliving their supervisor (vgpu-proxy --state-dir): restarts under a running program.
$(B)/tests/restart/stream_app: $(B)/tests/restart/stream_app.o $(LIBVGPU)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda -lpthread
.PRECIOUS: $(B)/tests/restart/%.o
$(B)/tests/restart/restart.sh: $(B)/tests/restart/stream_app $(B)/tests/isolation/zone_hold $(PROXY) $(VGPUCTL) \
		$(E2E_KERNELS) tests/restart/run.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec tests/restart/run.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/restart/restart.sh

# Checkpoint, restore and migration of a running zone between two proxies.
$(B)/tests/migrate/rt_loop: tests/migrate/rt_loop.cu tests/runtime/rt.h
	@mkdir -p $(dir $@)
	$(RT_NVCC) $< -o $@
$(B)/tests/migrate/state_poke.o: CPPFLAGS += -Iproxy
$(B)/tests/migrate/state_poke: $(B)/tests/migrate/state_poke.o $(RING_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(RING_LIBS)
$(B)/tests/migrate/migrate.sh: $(B)/tests/restart/stream_app $(B)/tests/migrate/rt_loop $(B)/tests/migrate/state_poke \
		$(PROXY) $(VGPUCTL) $(E2E_KERNELS) tests/migrate/run.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec tests/migrate/run.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/migrate/migrate.sh
$(B)/tests/migrate/rejoin.sh: $(B)/tests/restart/stream_app $(PROXY) $(VGPUCTL) $(E2E_KERNELS) tests/migrate/rejoin.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec tests/migrate/rejoin.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/migrate/rejoin.sh
