# tests/bench/bench.mk — the reference run against nginx (scripts/bench.sh).
#
# Included from the main Makefile:   include tests/bench/bench.mk
#   make bench                  the full run: every workload, 3 alternating wosd/nginx pairs,
#                               figures and ratios in build/bench/results.md (about 20 minutes)
#   make bench-quick            short runs and smaller data, for a quick look (about 5 minutes)
#   make bench BENCH_ARGS="--only get4k,put4k --pairs 5"    any scripts/bench.sh options
# Installs nginx-light when it is missing (as root, or through sudo).

BENCH_SAVED_GOAL := $(.DEFAULT_GOAL)
BENCH_ARGS ?=

.PHONY: bench bench-quick

bench: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/bench.sh $(BENCH_ARGS)

bench-quick: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/bench.sh --quick $(BENCH_ARGS)

# Including this file must not change what a bare `make` builds.
.DEFAULT_GOAL := $(BENCH_SAVED_GOAL)
