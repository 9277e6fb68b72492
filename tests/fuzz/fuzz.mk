# tests/fuzz/fuzz.mk — libFuzzer targets for wosd's parsers.
#
# Included from the main Makefile (at its end):   include tests/fuzz/fuzz.mk
#   make fuzz-build              clang + libFuzzer + ASan + UBSan: build/fuzz/fuzz_<parser>
#   make fuzz-smoke              every target for FUZZ_SECONDS (10) over a temporary copy of its
#                                seed corpus; fails on any crash, leak, UB or timeout
#   make fuzz-clean              removes build/fuzz
# Longer runs and reproducing a crash: scripts/fuzz.sh (see tests/fuzz/README.md).
#
# Everything here is prefixed FUZZ_ so that nothing leaks into the main build's variables, and
# the project's sources are compiled again, with coverage instrumentation, into their own
# directory (build/fuzz/obj/), never mixed with build/obj or build/asan/obj.

FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC       ?= clang
FUZZ_DIR      ?= build/fuzz
FUZZ_SECONDS  ?= 10
FUZZ_PKGS      = libssl libcrypto sqlite3 libxml-2.0 jansson libzstd
# The targets need neither HTTP core: leave out the one that needs libmicrohttpd.
FUZZ_CORE_SKIP = src/server/http_mhd.c
FUZZ_SAN       = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_WARN      = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
FUZZ_CFLAGS    = -std=c17 -D_GNU_SOURCE $(FUZZ_WARN) -O1 -g $(FUZZ_SAN) \
                 -Isrc $(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null) -MMD -MP
FUZZ_LIBS      = $(shell pkg-config --libs $(FUZZ_PKGS) 2>/dev/null) -lisal -lpthread -lm

FUZZ_LIB_SRCS := $(filter-out src/main.c $(FUZZ_CORE_SKIP),$(shell find src -name '*.c' | sort))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_SRCS     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_DIR)/%)

.PHONY: fuzz-build fuzz-smoke fuzz-clean

fuzz-build: $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_DIR=$(FUZZ_DIR) bash scripts/fuzz.sh smoke --seconds $(FUZZ_SECONDS)

fuzz-clean:
	rm -rf $(FUZZ_DIR)

# Project code: coverage-instrumented (fuzzer-no-link), linked into each target below.
$(FUZZ_LIB_OBJS): $(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_TARGETS): $(FUZZ_DIR)/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(FUZZ_LIBS)

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_TARGETS:=.d)

# Including this file must not change what a bare `make` builds.
.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
