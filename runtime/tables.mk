# SPDX-License-Identifier: MIT
# Tables made from the CUDA headers at build time, shared by libvgpu and the simulator
# (included by the top-level Makefile before the other modules, which depend on them).

# CUresult names and descriptions (runtime/cuerr.c), from the enum in cuda.h: the driver's
# cuGetErrorString strings of runtime/cuerr_strings.txt, else cuda.h's doc comment. The awk
# script fails the build when that file names a code cuda.h does not have.
CUERR_TABLE := $(B)/gen/cuerr_table.h
$(CUERR_TABLE): $(CUDA_H) runtime/cuerr_table.awk runtime/cuerr_strings.txt
	@mkdir -p $(dir $@)
	awk -f runtime/cuerr_table.awk runtime/cuerr_strings.txt $(CUDA_H) > $@.tmp && mv $@.tmp $@
$(B)/runtime/cuerr.o: $(CUERR_TABLE)
$(B)/runtime/cuerr.o: CPPFLAGS += -I$(B)/gen

# Every CUresult name of cuda.h as CUERR_NAME(name) lines, for tests/sim/test_sim_cuerr.c;
# made apart from the table so that a code the table lost is noticed.
CUERR_NAMES := $(B)/gen/cuerr_names.h
$(CUERR_NAMES): $(CUDA_H)
	@mkdir -p $(dir $@)
	sed -n '/^typedef enum cudaError_enum/,/^}/s/^[[:space:]]*\(CUDA_[A-Z0-9_]*\)[[:space:]]*=.*/CUERR_NAME(\1)/p' \
	  $(CUDA_H) > $@.tmp && mv $@.tmp $@

# cuGetProcAddress's version table (runtime/procaddr.c), from the PFN typedefs of cudaTypedefs.h
# and of cudaProfilerTypedefs.h (cudaProfilerStart asks for cuProfilerStart by version), and of
# the graphics interop headers where the toolkit has them (the runtime's interop calls ask for
# theirs: runtime/interop.c answers them).
CUDA_TYPEDEFS_H := $(dir $(CUDA_H))cudaTypedefs.h $(dir $(CUDA_H))cudaProfilerTypedefs.h \
                   $(wildcard $(addprefix $(dir $(CUDA_H)),cudaGLTypedefs.h cudaVDPAUTypedefs.h cudaEGLTypedefs.h))
PROCADDR_TABLE  := $(B)/gen/procaddr_table.h
$(PROCADDR_TABLE): $(CUDA_TYPEDEFS_H) runtime/procaddr_table.awk runtime/tables.mk
	@mkdir -p $(dir $@)
	grep -ho 'PFN_cu[A-Za-z0-9_]*_v[0-9]*\(_ptsz\|_ptds\)\?)' $(CUDA_TYPEDEFS_H) | LC_ALL=C sort -u \
	  | sed -E 's/^PFN_(cu[A-Za-z0-9_]*)_v([0-9]+)(_(ptsz|ptds))?\)$$/\1 \2 \4/; s/ $$/ -/' \
	  | awk -f runtime/procaddr_table.awk | LC_ALL=C sort > $@.tmp && mv $@.tmp $@
$(B)/runtime/procaddr.o: $(PROCADDR_TABLE)
$(B)/runtime/procaddr.o: CPPFLAGS += -I$(B)/gen
