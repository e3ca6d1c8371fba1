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
	$(CODEGEN) --header $(CUDA_H) --spec spec/cuda.spec --out generated
