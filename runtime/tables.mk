# SPDX-License-Identifier: MIT
# Tables made from the CUDA headers at build time, shared by libvgpu and the simulator
# (included by the top-level Makefile before the other modules, which depend on them).

# CUresult names and descriptions (runtime/cuerr.c), from the enum in cuda.h.
CUERR_TABLE := $(B)/gen/cuerr_table.h
$(CUERR_TABLE): $(CUDA_H) runtime/cuerr_table.awk
	@mkdir -p $(dir $@)
	awk -f runtime/cuerr_table.awk $(CUDA_H) > $@.tmp && mv $@.tmp $@
$(B)/runtime/cuerr.o: $(CUERR_TABLE)
$(B)/runtime/cuerr.o: CPPFLAGS += -I$(B)/gen

# cuGetProcAddress's version table (runtime/procaddr.c), from the PFN typedefs of cudaTypedefs.h.
CUDA_TYPEDEFS_H := $(dir $(CUDA_H))cudaTypedefs.h
PROCADDR_TABLE  := $(B)/gen/procaddr_table.h
$(PROCADDR_TABLE): $(CUDA_TYPEDEFS_H) runtime/procaddr_table.awk
	@mkdir -p $(dir $@)
	grep -o 'PFN_cu[A-Za-z0-9_]*_v[0-9]*\(_ptsz\|_ptds\)\?)' $< | LC_ALL=C sort -u \
	  | sed -E 's/^PFN_(cu[A-Za-z0-9_]*)_v([0-9]+)(_(ptsz|ptds))?\)$$/\1 \2 \4/; s/ $$/ -/' \
	  | awk -f runtime/procaddr_table.awk | LC_ALL=C sort > $@.tmp && mv $@.tmp $@
$(B)/runtime/procaddr.o: $(PROCADDR_TABLE)
$(B)/runtime/procaddr.o: CPPFLAGS += -I$(B)/gen
