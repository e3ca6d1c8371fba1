# SPDX-License-Identifier: MIT
# libvgpu build rules (included by the top-level Makefile): libcuda.so.1 for zones.

LIBVGPU     := $(B)/libvgpu/libcuda.so.1
LIBVGPU_SRC := $(wildcard libvgpu/*.c) generated/vgpu_client.c generated/vgpu_calls.c \
               runtime/codec.c runtime/cuerr.c runtime/cuerr_api.c runtime/modimage.c runtime/custom_wire.c runtime/procaddr.c \
               runtime/darkapi.c runtime/library.c runtime/legacy.c runtime/local_calls.c runtime/graphnodes.c runtime/composite.c runtime/oldlaunch.c runtime/rdc.c \
               runtime/advice.c runtime/visible.c runtime/interop.c
LIBVGPU_OBJ := $(LIBVGPU_SRC:%.c=$(B)/%.o)
LIBVGPU_MAP := generated/libvgpu.map

# libcuda's own view of cuda.h: every ABI name (_v2, _ptsz, legacy) is declared as itself.
$(LIBVGPU_OBJ): CPPFLAGS += -Ilibvgpu -I$(B)/gen -D__CUDA_API_VERSION_INTERNAL=1
# The exports: cuda.h's names (the generated map) and the graphics interop ones of
# runtime/interop.c (libvgpu/interop.names), in one version script.
$(B)/libvgpu/exports.map: $(LIBVGPU_MAP) libvgpu/interop.names
	@mkdir -p $(dir $@)
	awk 'FNR == NR { if ($$0 !~ /^#/ && NF) extra = extra "\t\t" $$1 ";\n"; next } \
	     /^\tlocal:/ { printf "%s", extra } { print }' libvgpu/interop.names $(LIBVGPU_MAP) > $@
$(LIBVGPU): $(LIBVGPU_OBJ) $(RING_LIB) $(B)/libvgpu/exports.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libcuda.so.1 -Wl,--version-script=$(B)/libvgpu/exports.map \
	  -Wl,-z,defs -o $@ $(LIBVGPU_OBJ) $(RING_LIB) $(RING_LIBS) -lmsgpackc -lzstd -llz4
	ln -sf libcuda.so.1 $(dir $@)libcuda.so

ALL += $(LIBVGPU)

# libnvidia-ml.so.1 for zones (libvgpu/nvml/): NVML's device questions answered through
# libcuda.so.1, which in a zone is libvgpu. Only the functions it defines are exported.
LIBVGPU_NVML     := $(B)/libvgpu/libnvidia-ml.so.1
LIBVGPU_NVML_OBJ := $(B)/libvgpu/nvml/nvml.o $(B)/runtime/visible.o
$(B)/libvgpu/nvml/nvml.o: CFLAGS += -fvisibility=hidden
$(LIBVGPU_NVML): $(LIBVGPU_NVML_OBJ) $(LIBVGPU) libvgpu/nvml/nvml.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libnvidia-ml.so.1 -Wl,--version-script=libvgpu/nvml/nvml.map -Wl,-z,defs \
	  -o $@ $(LIBVGPU_NVML_OBJ) -L$(dir $(LIBVGPU)) -l:libcuda.so.1
	ln -sf libnvidia-ml.so.1 $(dir $@)libnvidia-ml.so

ALL += $(LIBVGPU_NVML)
