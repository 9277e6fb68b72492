# wosd — build with GNU Make.
#   make            release build: build/wosd
#   make run        install build deps, build, and serve on 127.0.0.1:9000 over ./data
#   make test       install test deps, build, run unit + integration tests, then again under ASan+UBSan,
#                   then every fuzz target for a few seconds
#   make asan       sanitizer build: build/asan/wosd
#   make unit       unit tests of the release build only
#   make bench      wosd against nginx on loopback, figures with ratios (tests/bench/bench.mk)
#   make lint       cppcheck and clang-tidy over src/ (scripts/lint.sh; checks in .clang-tidy)
#   make valgrind-unit  the unit tests of the release build under Valgrind memcheck, no leak allowed
#
# HTTP_CORE picks the HTTP/1.1 core: epoll (default, src/server/http_epoll.c, our own) or mhd
# (src/server/http_mhd.c on libmicrohttpd, built into build/mhd/ so both can be measured side
# by side: `make HTTP_CORE=mhd` gives build/mhd/wosd). Everything else is shared.
CC      ?= cc
HTTP_CORE ?= epoll
ifeq ($(HTTP_CORE),mhd)
BUILD   ?= build/mhd
PKGS     = libmicrohttpd libssl libcrypto sqlite3 libxml-2.0 jansson libzstd
HTTP_CORE_SKIP = src/server/http_epoll.c
else ifeq ($(HTTP_CORE),epoll)
PKGS     = libssl libcrypto sqlite3 libxml-2.0 jansson libzstd
HTTP_CORE_SKIP = src/server/http_mhd.c
else
$(error HTTP_CORE must be epoll or mhd)
endif
CSTD     = -std=c17 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
INC      = -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lisal -lpthread -lm
OPT     ?= -O2 -g
BUILD   ?= build
SAN      =

ifeq ($(BUILD),build/asan)
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      = -O1 -g
endif

CFLAGS  += $(CSTD) $(WARN) $(OPT) $(SAN) $(INC) -MMD -MP
LDFLAGS += $(SAN)

SRCS     = $(filter-out $(HTTP_CORE_SKIP),$(shell find src -name '*.c' | sort))
LIB_SRCS = $(filter-out src/main.c,$(SRCS))
OBJS     = $(SRCS:%.c=$(BUILD)/obj/%.o)
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test asan unit deps deps-test clean lint valgrind-unit
all: $(BUILD)/wosd

$(BUILD)/wosd: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LIBS) -lcmocka

unit-bins: $(UNIT_BINS)

deps:
	@bash scripts/deps.sh
deps-test:
	@bash scripts/deps.sh --test

run: deps
	@$(MAKE) --no-print-directory all
	./build/wosd serve --listen 127.0.0.1:9000 --data ./data

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan build/asan/wosd

unit: all unit-bins
	@bash scripts/run-tests.sh unit build

lint:
	@bash scripts/lint.sh

valgrind-unit: all unit-bins
	@bash scripts/run-tests.sh valgrind build

test: deps-test
	@$(MAKE) --no-print-directory all unit-bins
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang build/asan/wosd unit-bins
	@$(MAKE) --no-print-directory fuzz-build
	@bash scripts/run-tests.sh all

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(UNIT_BINS:%=%.d)

include tests/fuzz/fuzz.mk
include tests/bench/bench.mk
