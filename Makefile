# Chanx in C — build, run and test.
#
# One Makefile for the whole tree. Every directory's *.c files are picked up
# by wildcard: a file named main.c is the entry point of that directory's
# program, everything else is a library object the unit tests may link.
#
#   make            build the programs and example plugins into build/
#   make run        install deps, build, start PostgreSQL + broker + worker + gateway
#   make test       unit and end-to-end tests, plain and under ASan/UBSan
#   make bench      benchmarks (see docs/benchmarks.md)
#
# BUILD selects the output directory; SAN=1 builds with sanitizers.

BUILD ?= build
SAN ?= 0

CC ?= cc
PKGS := libwebsockets libuv libczmq libzmq jansson msgpack libpq libpcre2-8 openssl zlib libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -fPIC \
	-Iinclude -I. $(PKG_CFLAGS)
ifeq ($(SAN),1)
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
else
CFLAGS_OPT := -O2
LDFLAGS_SAN :=
endif
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS_OPT) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lpthread -ldl -lm $(LDLIBS)

# Library objects of each part (everything but main.c).
lib_srcs = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_OBJS  := $(call objs,$(call lib_srcs,common) $(call lib_srcs,proto))
GATEWAY_OBJS := $(call objs,$(call lib_srcs,gateway))
BROKER_OBJS  := $(call objs,$(call lib_srcs,broker))
WORKER_OBJS  := $(call objs,$(call lib_srcs,workers))
ADMIN_OBJS   := $(call objs,$(call lib_srcs,admin))
API_OBJS     := $(call objs,$(call lib_srcs,api))
KIT_OBJS     := $(call objs,$(filter-out %selftest.c,$(wildcard tests/kit/*.c)))

PROGRAMS := $(BUILD)/chanx-gateway $(BUILD)/chanx-broker $(BUILD)/chanx-worker $(BUILD)/chanx-api
ifneq ($(wildcard admin/main.c),)
PROGRAMS += $(BUILD)/chanx-admin
endif
PLUGINS := $(patsubst examples/%/,$(BUILD)/plugins/%.so,$(sort $(dir $(wildcard examples/*/*.c))))
# Plugins that exist only to exercise the framework in end-to-end tests.
TEST_PLUGINS := $(patsubst tests/plugins/%/,$(BUILD)/test-plugins/%.so,$(sort $(dir $(wildcard tests/plugins/*/*.c))))

UNIT_SRCS := $(wildcard tests/unit/*.c)
E2E_SRCS  := $(wildcard tests/e2e/*.c) $(wildcard tests/kit/*selftest.c)

# The testing kit as a library: what a plugin author's tests link (see README).
KIT_LIB := $(BUILD)/lib/libchanx-testing.a

.PHONY: all deps run test test-plain test-san unit e2e bench clean new-consumer
.DEFAULT_GOAL := all

all: $(PROGRAMS) $(PLUGINS) $(TEST_PLUGINS) $(KIT_LIB) $(BUILD)/tests/unit $(BUILD)/tests/e2e $(BUILD)/bench/bare_echo $(BUILD)/bench/chanx-bench

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

$(BUILD)/chanx-gateway: $(BUILD)/obj/gateway/main.o $(GATEWAY_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/chanx-broker: $(BUILD)/obj/broker/main.o $(BROKER_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

# The worker exports the plugin API (include/chanx/) to the plugins it loads.
$(BUILD)/chanx-worker: $(BUILD)/obj/workers/main.o $(WORKER_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS_SAN) -rdynamic -o $@ $^ $(LDLIBS_ALL)

# The publish API (api/): HTTP in, EVENT/CLOSE_TARGET envelopes out.
$(BUILD)/chanx-api: $(BUILD)/obj/api/main.o $(API_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/chanx-admin: $(BUILD)/obj/admin/main.o $(ADMIN_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

# A plugin is every .c file of one examples/<name>/ folder, linked into <name>.so.
# Its chanx_* symbols resolve against the worker at load time.
.SECONDEXPANSION:
$(BUILD)/plugins/%.so: $$(wildcard examples/%/*.c) include/chanx/consumer.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -shared -o $@ $(filter %.c,$^)

$(BUILD)/test-plugins/%.so: $$(wildcard tests/plugins/%/*.c) include/chanx/consumer.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -shared -o $@ $(filter %.c,$^)

$(BUILD)/tests/unit: $(call objs,$(UNIT_SRCS)) $(GATEWAY_OBJS) $(BROKER_OBJS) $(WORKER_OBJS) $(ADMIN_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) -rdynamic -o $@ $^ $(LDLIBS_ALL) -lcriterion

# The common objects ride along so kit helpers may use them; only what is
# referenced is linked. The project's own e2e tests link the same archive.
$(KIT_LIB): $(KIT_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/e2e: $(call objs,$(E2E_SRCS)) $(KIT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) -o $@ $(call objs,$(E2E_SRCS)) $(KIT_LIB) $(LDLIBS_ALL) -lcriterion

# Scaffolds a plugin folder with a consumer, its test and a Makefile:
#   make new-consumer NAME=foo [DIR=plugins/foo]
new-consumer:
	@scripts/new-consumer "$(NAME)" "$(or $(DIR),plugins/$(NAME))"

# The bare libwebsockets echo server: the limit benchmarks measure against (not shipped).
$(BUILD)/bench/bare_echo: bench/bare_echo.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_SAN) -o $@ $< $(LDLIBS_ALL)

# The load generator: every bench/*.c but the bare server; libc only.
$(BUILD)/bench/chanx-bench: $(call objs,$(filter-out bench/bare_echo.c,$(wildcard bench/*.c)))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ -lm

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run

# The test suite runs twice: an optimised build, then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer in build-san/.
test: deps
	@$(MAKE) --no-print-directory check-deploy
	@$(MAKE) --no-print-directory test-plain
	@$(MAKE) --no-print-directory test-san

# The deployment (docker/) is checked where no Docker engine runs: the compose
# file must satisfy Debian's docker-compose, the image's `RUN make` goals are
# built here exactly as docker/Dockerfile names them, and the image copies
# every program.
DOCKER_GOALS = $(shell sed -n 's/^RUN make .*BUILD=[^ ]* //p' docker/Dockerfile)

.PHONY: programs plugins check-deploy
programs: $(PROGRAMS)
plugins: $(PLUGINS)

check-deploy:
	@docker-compose -f docker/docker-compose.yml config -q
	@test -n "$(DOCKER_GOALS)" || { echo "check-deploy: no 'RUN make ... BUILD=DIR goals' in docker/Dockerfile" >&2; exit 1; }
	@for p in $(notdir $(PROGRAMS)); do grep -q "/out/$$p" docker/Dockerfile \
	  || { echo "check-deploy: docker/Dockerfile does not ship $$p" >&2; exit 1; }; done
	@$(MAKE) --no-print-directory $(DOCKER_GOALS)
	@echo "check-deploy: compose file valid, image goals '$(DOCKER_GOALS)' build"

test-plain: all
	@scripts/run-tests $(BUILD)

test-san:
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 all
	@scripts/run-tests build-san

unit: all
	$(BUILD)/tests/unit

e2e: all
	@scripts/run-tests $(BUILD) e2e

# scripts/bench builds only what it runs (an -O2 build in build/), so a test
# that does not compile yet cannot stop a benchmark.
bench: deps
	@scripts/bench

clean:
	rm -rf build build-san
