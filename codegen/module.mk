# SPDX-License-Identifier: MIT
# codegen build rules (included by the top-level Makefile): vgpu-codegen, `make regen`, the
# runtime codec (runtime/codec*.c), and the codegen/codec tests and benchmark.

LLVM_DIR ?= /usr/lib/llvm-14

CODEGEN     := $(B)/codegen/vgpu-codegen
CODEGEN_SRC := codegen/main.c codegen/spec.c codegen/header.c codegen/classify.c codegen/emit.c codegen/sha256.c
CODEGEN_OBJ := $(CODEGEN_SRC:%.c=$(B)/%.o)

$(CODEGEN_OBJ): CPPFLAGS += -I$(LLVM_DIR)/include
$(CODEGEN): $(CODEGEN_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ -L$(LLVM_DIR)/lib -Wl,-rpath,$(LLVM_DIR)/lib -lclang

ALL += $(CODEGEN)

# Rewrites generated/ from cuda.h + spec/cuda.spec (idempotent).
regen: $(CODEGEN)
	$(CODEGEN) --header $(CUDA_H) --extra-header $(dir $(CUDA_H))cudaProfiler.h --spec spec/cuda.spec --out generated

# ---- codec (runtime/codec.c, rules here because runtime/module.mk covers the ring) ----
# Parts that use the codec link $(CODEC_OBJS) and add $(CODEC_LIBS).
CODEC_OBJS := $(B)/runtime/codec.o $(B)/generated/vgpu_calls.o
CODEC_LIBS := -lmsgpackc

# The codec runs on every remoted call: -O3 (inlining msgpack-c's packers into the one
# encoder loop) measurably helps (docs/perf/codec.md). Sanitizer builds keep their -O1.
ifneq ($(SAN),1)
$(B)/runtime/codec.o: CFLAGS += -O3
endif

# ---- tests: make B=build/san SAN=1 test-codegen ----
CODEGEN_TESTS := $(B)/tests/codegen/codec_test $(B)/tests/codegen/regen_check.sh $(B)/tests/codegen/golden.sh \
                 $(B)/tests/codegen/abi_check.sh

$(B)/tests/codegen/codec_test: $(B)/tests/codegen/codec_test.o $(CODEC_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CODEC_LIBS)

# Scripts are copied next to the binaries so TESTS holds only $(B) paths; they find
# vgpu-codegen through VGPU_BUILD.
$(B)/tests/codegen/%.sh: tests/codegen/%.sh $(CODEGEN)
	@mkdir -p $(dir $@)
	cp $< $@ && chmod +x $@
# (it also compares the map with what the built libvgpu defines)
$(B)/tests/codegen/abi_check.sh: $(LIBVGPU)

.PRECIOUS: $(B)/tests/codegen/%.o

TESTS += $(CODEGEN_TESTS)

.PHONY: test-codegen
test-codegen: $(CODEGEN_TESTS)
	@VGPU_BUILD=$(B) tests/run.sh --timeout 300 $(CODEGEN_TESTS)

# ---- benchmark: bench/codec (results in docs/perf/codec.md) ----
$(B)/bench/codec: $(B)/bench/codec.o $(CODEC_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CODEC_LIBS)

ALL     += $(B)/bench/codec
BENCHES += $(B)/bench/codec
