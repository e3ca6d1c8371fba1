# SPDX-License-Identifier: MIT
# libvgpu build rules (included by the top-level Makefile): libcuda.so.1 for zones.

LIBVGPU     := $(B)/libvgpu/libcuda.so.1
LIBVGPU_SRC := $(wildcard libvgpu/*.c) generated/vgpu_client.c generated/vgpu_calls.c \
               runtime/codec.c runtime/cuerr.c runtime/modimage.c runtime/custom_wire.c runtime/procaddr.c
LIBVGPU_OBJ := $(LIBVGPU_SRC:%.c=$(B)/%.o)
LIBVGPU_MAP := generated/libvgpu.map

# CUresult names and descriptions, extracted from cuda.h (used by libvgpu and the simulator).
CUERR_TABLE := $(B)/gen/cuerr_table.h
$(CUERR_TABLE): $(CUDA_H) libvgpu/cuerr_table.awk
	@mkdir -p $(dir $@)
	awk -f libvgpu/cuerr_table.awk $(CUDA_H) > $@.tmp && mv $@.tmp $@
$(B)/runtime/cuerr.o: $(CUERR_TABLE)
$(B)/runtime/cuerr.o: CPPFLAGS += -I$(B)/gen

# libcuda's own view of cuda.h: every ABI name (_v2, _ptsz, legacy) is declared as itself.
# cuGetProcAddress's version table, from the PFN typedefs of cudaTypedefs.h.
CUDA_TYPEDEFS_H := $(dir $(CUDA_H))cudaTypedefs.h
PROCADDR_TABLE  := $(B)/gen/procaddr_table.h
$(PROCADDR_TABLE): $(CUDA_TYPEDEFS_H) libvgpu/procaddr_table.awk
	@mkdir -p $(dir $@)
	grep -o 'PFN_cu[A-Za-z0-9_]*_v[0-9]*\(_ptsz\|_ptds\)\?)' $< | LC_ALL=C sort -u \
	  | sed -E 's/^PFN_(cu[A-Za-z0-9_]*)_v([0-9]+)(_(ptsz|ptds))?\)$$/\1 \2 \4/; s/ $$/ -/' \
	  | awk -f libvgpu/procaddr_table.awk | LC_ALL=C sort > $@.tmp && mv $@.tmp $@
$(B)/runtime/procaddr.o: $(PROCADDR_TABLE)
$(B)/runtime/procaddr.o: CPPFLAGS += -I$(B)/gen

$(LIBVGPU_OBJ): CPPFLAGS += -Ilibvgpu -I$(B)/gen -D__CUDA_API_VERSION_INTERNAL=1
$(LIBVGPU): $(LIBVGPU_OBJ) $(RING_LIB) $(LIBVGPU_MAP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libcuda.so.1 -Wl,--version-script=$(LIBVGPU_MAP) \
	  -Wl,-z,defs -o $@ $(LIBVGPU_OBJ) $(RING_LIB) $(RING_LIBS) -lmsgpackc -lzstd -llz4
	ln -sf libcuda.so.1 $(dir $@)libcuda.so

ALL += $(LIBVGPU)
