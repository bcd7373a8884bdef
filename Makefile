# proxypool — one Makefile for every program, its tests, sanitizer and fuzz builds.
#
#   make            build every program into $(BUILD)/bin
#   make check      build, then run unit tests (Check) and integration tests
#   make asan       the same build and tests under AddressSanitizer + UBSan
#   make fuzz       build the libFuzzer targets into build-fuzz/
#   make deps       install the Debian packages (deploy/setup.sh)
#   make demo       build, then a MISS and a HIT through proxyd, then the paper's Fig. 4
#                   experiment in its quick form (ppexp fig4-quick) with its table and plots

BUILD    ?= build
.DEFAULT_GOAL := all
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -D_GNU_SOURCE -pthread -Icommon -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS  += -pthread $(EXTRA_LDFLAGS)

# Every program links against the same set of libraries; pkg-config says how.
PKGS       := libevent libevent_pthreads libcjson libnl-3.0 libnl-route-3.0 libiptc \
              libnetfilter_conntrack
TEST_PKGS  := check
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(TEST_PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
TEST_LIBS  := $(shell pkg-config --libs $(TEST_PKGS))
CFLAGS     += $(PKG_CFLAGS)

PROGRAMS := proxyd manager ppctl balancer loadgen ppexp

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
COMMON_LIB := $(BUILD)/lib/libppcommon.a

# Each program: <prog>/main.c plus its modules; the modules also go into an
# archive so unit tests can link them without main.
define program_rules
$(1)_SRC := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c))
$(1)_OBJ := $$($(1)_SRC:%.c=$$(BUILD)/obj/%.o)
$(1)_LIB := $$(BUILD)/lib/lib$(1).a
$$($(1)_LIB): $$($(1)_OBJ)
	@mkdir -p $$(@D)
	$$(AR) rcs $$@ $$^
$$(BUILD)/bin/$(1): $$(BUILD)/obj/$(1)/main.o $$($(1)_LIB) $$(COMMON_LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) -lm
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rules,$(p))))

PROGRAM_BINS := $(PROGRAMS:%=$(BUILD)/bin/%)
PROGRAM_LIBS := $(foreach p,$(PROGRAMS),$($(p)_LIB))

# Small helper programs the integration tests and benchmarks use (scripted
# origin, raw client): tests/tools/*.c, one binary each.
TOOL_SRC  := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

# Unit tests: tests/unit/test_*.c, one Check binary each.
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(PROGRAM_BINS) $(TOOL_BINS)

$(COMMON_LIB): $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tools/%: tests/tools/%.c $(PROGRAM_LIBS) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(PROGRAM_LIBS) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -lm

unit: $(UNIT_BINS)
	@tests/unit/run.sh $(UNIT_BINS)

integration: all
	@PP_BUILD=$(abspath $(BUILD)) tests/integration/run.sh

# Unit tests, then integration tests, never side by side (they time things
# and own ports), even under make -j.
check: all $(UNIT_BINS)
	@tests/unit/run.sh $(UNIT_BINS)
	@PP_BUILD=$(abspath $(BUILD)) tests/integration/run.sh

# Sanitizers: a separate build tree, the same tests.
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" check

# Fuzz targets: tests/fuzz/fuzz_*.c, built with clang's libFuzzer.
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_FLAGS := -O1 -g -std=gnu11 -D_GNU_SOURCE -Icommon -Iproxyd $(PKG_CFLAGS) \
              -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
fuzz: $(FUZZ_BINS)
build-fuzz/%: tests/fuzz/%.c $(COMMON_SRC) $(wildcard proxyd/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -o $@ $< $(COMMON_SRC) $(filter-out proxyd/main.c,$(wildcard proxyd/*.c)) $(PKG_LIBS) -lm
# The balancer's admin input: its modules instead of proxyd's.
build-fuzz/fuzz_balancer_%: tests/fuzz/fuzz_balancer_%.c $(COMMON_SRC) $(wildcard balancer/*.[ch])
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -o $@ $< $(COMMON_SRC) $(filter-out balancer/main.c,$(wildcard balancer/*.c)) $(PKG_LIBS) -lm

deps:
	deploy/setup.sh

demo: all
	PP_BUILD=$(abspath $(BUILD)) deploy/demo.sh

format:
	clang-format -i $(wildcard */*.c */*.h tests/*/*.c tests/*/*.h)

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all unit integration check asan fuzz deps demo format clean
.SECONDARY:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
