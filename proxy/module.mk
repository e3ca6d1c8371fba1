# SPDX-License-Identifier: MIT
# proxy build rules (included by the top-level Makefile).

# Per-zone data structures: no driver, no ring; unit-tested on their own.
PROXY_CORE_OBJS := $(addprefix $(B)/proxy/,handles.o allocmap.o quota.o zone.o log.o)

PROXY_UNIT_TESTS := $(addprefix $(B)/tests/proxy/,test_handles test_allocmap test_zone)

$(PROXY_UNIT_TESTS): $(B)/tests/proxy/%: $(B)/tests/proxy/%.o $(PROXY_CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

PROXY_TESTS := $(PROXY_UNIT_TESTS)
TESTS += $(PROXY_TESTS)

.PHONY: test-proxy
test-proxy: $(PROXY_TESTS)
	@VGPU_BUILD=$(B) tests/run.sh $(PROXY_TESTS)
