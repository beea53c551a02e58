# Chanx in C — build, run and test.
#
# One Makefile for the whole tree. Every directory's *.c files are picked up
# by wildcard: a file named main.c is the entry point of that directory's
# program, everything else is a library object the unit tests may link.
#
#   make            build the programs and example plugins into build/
#   make run        install deps, build, start PostgreSQL + broker + worker + gateway
#   make test       the layer check, unit and end-to-end tests, plain and under ASan/UBSan
#   make check-layers  no call circle between the files of a process folder (scripts/check-layers)
#   make bench      benchmarks (see docs/benchmarks.md)
#   make docs       the documentation site (README.md, docs/) into build/site/ with mkdocs
#   make install    programs, plugin SDK and testing kit under PREFIX (DESTDIR); make uninstall
#   make fuzz       every libFuzzer harness of tests/fuzz/ for FUZZ_SECONDS (60) each
#   make soak       a deployment under load and faults for SOAK_SECONDS (600), ASan+UBSan (not in make test)
#
# BUILD selects the output directory; SAN=1 builds with sanitizers, TSAN=1 with
# ThreadSanitizer (the worker's thread pool; see test-tsan).

BUILD ?= build
SAN ?= 0
TSAN ?= 0

CC ?= cc
PKGS := libwebsockets libuv libczmq libzmq jansson msgpack libpq libpcre2-8 openssl zlib libmicrohttpd libb2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -fPIC \
	-Iinclude -I. $(PKG_CFLAGS)
ifeq ($(SAN),1)
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
else ifeq ($(TSAN),1)
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=thread
LDFLAGS_SAN := -fsanitize=thread
else ifeq ($(SAN),fuzz)
# clang only: objects instrumented for libFuzzer, linked into tests/fuzz/ harnesses.
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
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
# Plugins of a previous release built against its header (tests/abi/v<N>/): ABI compatibility fixtures.
ABI_PLUGINS := $(patsubst tests/abi/%.c,$(BUILD)/abi-plugins/%.so,$(wildcard tests/abi/v*/plugins/*.c))
# The benchmark's consumers (scripts/bench loads them next to the examples).
BENCH_PLUGINS := $(patsubst bench/plugins/%/,$(BUILD)/bench/plugins/%.so,$(sort $(dir $(wildcard bench/plugins/*/*.c))))

UNIT_SRCS := $(wildcard tests/unit/*.c)
E2E_SRCS  := $(wildcard tests/e2e/*.c) $(wildcard tests/kit/*selftest.c)

# The testing kit as a library: what a plugin author's tests link (see README).
KIT_LIB := $(BUILD)/lib/libchanx-testing.a

.PHONY: docs check-docs check-clients soak all deps run test check-layers test-plain test-san test-tsan unit e2e bench clean new-consumer fuzz fuzz-build fuzz-smoke check-private-folder check-run
.DEFAULT_GOAL := all

all: $(PROGRAMS) $(PLUGINS) $(TEST_PLUGINS) $(ABI_PLUGINS) $(KIT_LIB) $(BUILD)/tests/unit $(BUILD)/tests/e2e $(BUILD)/bench/bare_echo $(BUILD)/bench/chanx-bench $(BUILD)/bench/chanx-bench-broker $(BUILD)/bench/chanx-bench-revalidate $(BENCH_PLUGINS)

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The playground's files are linked into the gateway (.incbin), which -MMD cannot see.
$(BUILD)/obj/gateway/playground.o: gateway/playground/index.html clients/js/chanx.js

$(BUILD)/chanx-gateway: $(BUILD)/obj/gateway/main.o $(GATEWAY_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/chanx-broker: $(BUILD)/obj/broker/main.o $(BROKER_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

# The worker exports the plugin API (include/chanx/) to the plugins it loads, and only that:
# workers/exports.map keeps everything but chanx_* local.
$(BUILD)/chanx-worker: $(BUILD)/obj/workers/main.o $(WORKER_OBJS) $(COMMON_OBJS) workers/exports.map
	$(CC) $(LDFLAGS_SAN) -rdynamic -Wl,--version-script=workers/exports.map -o $@ $(filter %.o,$^) $(LDLIBS_ALL)

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

# -I tests/abi/v<N> first: <chanx/consumer.h> is that release's header.
$(BUILD)/abi-plugins/%.so: tests/abi/%.c $$(wildcard tests/abi/$$(firstword $$(subst /, ,$$*))/chanx/*.h)
	@mkdir -p $(dir $@)
	$(CC) -Itests/abi/$(firstword $(subst /, ,$*)) $(CFLAGS_ALL) -shared -o $@ $<

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

# Installs the programs, the example plugins, the plugin SDK (include/chanx/*.h, chanx.pc,
# chanx-new-consumer) and the testing kit (libchanx-testing.a, chanx-testing.pc, run-tests) under
# PREFIX, staged under DESTDIR for packagers; install-sdk installs the SDK alone (the image's sdk
# stage). Files and layout: scripts/install-sdk.
PREFIX ?= /usr/local
DESTDIR ?=
.PHONY: install install-sdk uninstall
install: $(PROGRAMS) $(PLUGINS) $(KIT_LIB)
	@scripts/install-sdk install programs,sdk,kit "$(DESTDIR)" "$(PREFIX)" "$(BUILD)"
install-sdk:
	@scripts/install-sdk install sdk "$(DESTDIR)" "$(PREFIX)" "$(BUILD)"
uninstall:
	@scripts/install-sdk uninstall programs,sdk,kit "$(DESTDIR)" "$(PREFIX)" "$(BUILD)"

# Scaffolds a plugin folder with a consumer, its test and a Makefile:
#   make new-consumer NAME=foo [DIR=plugins/foo]
new-consumer:
	@scripts/new-consumer "$(NAME)" "$(or $(DIR),plugins/$(NAME))"

# The bare libwebsockets echo server: the limit benchmarks measure against (not shipped).
$(BUILD)/bench/bare_echo: bench/bare_echo.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_SAN) -o $@ $< $(LDLIBS_ALL)

# The benchmark's own consumers (bench/plugins/<name>/), loaded next to the examples by scripts/bench.
$(BUILD)/bench/plugins/%.so: $$(wildcard bench/plugins/%/*.c) include/chanx/consumer.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -shared -o $@ $(filter %.c,$^)

# The load generator: every bench/*.c but the bare server; libc only.
$(BUILD)/bench/chanx-bench: $(call objs,$(filter-out bench/bare_echo.c,$(wildcard bench/*.c)))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ -lm

# The broker's own load (`chanx-bench broker` runs it): fake gateways and workers on real links, so
# it links proto/ and common/ and ZeroMQ, which chanx-bench itself does without.
$(BUILD)/bench/chanx-bench-broker: $(call objs,$(wildcard bench/broker/*.c) bench/hist.c) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

# What revocation checks cost PostgreSQL (docs/benchmarks.md): the gateway's revalidate.c on its pool.
$(BUILD)/bench/chanx-bench-revalidate: $(call objs,bench/revalidate/main.c) $(GATEWAY_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

# Only what it starts, and the testing kit a scaffold's `make test` links (make new-consumer): a first
# `make run` need not compile the test suites and the benchmark.
run: deps
	@$(MAKE) --no-print-directory programs plugins kit
	@scripts/run

# The test suite runs twice: an optimised build, then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer in build-san/.
test: deps
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) --no-print-directory check-docs
	@tests/clients_install.sh
	@$(MAKE) --no-print-directory check-deploy
	@tests/private_folder.sh
	@$(MAKE) --no-print-directory test-plain
	@tests/make_run.sh
	@$(MAKE) --no-print-directory test-san
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory fuzz-smoke

# Layers: within one process folder no file calls back into a file that calls it (read from the
# object files with nm; scripts/check-layers names the circle). The first step of `make test`: it
# only compiles these folders' objects.
LAYER_FOLDERS := workers broker gateway common proto api admin
# tests/check_layers.sh first shows the check still fails on a made-up circle.
check-layers: $(foreach f,$(LAYER_FOLDERS),$(call objs,$(wildcard $(f)/*.c)))
	@tests/check_layers.sh
	@scripts/check-layers $(BUILD) $(LAYER_FOLDERS)

# The deployment (docker/) is checked where no Docker engine runs: the compose
# file must satisfy Debian's docker-compose, the image's `RUN make` goals are
# built here exactly as docker/Dockerfile names them (installs into a scratch
# DESTDIR: the sdk stage's install-sdk), the image copies every program, and
# the sdk stage's SDK builds a plugin with pkg-config.
DOCKER_GOALS = $(shell sed -n 's/^RUN make .*BUILD=[^ ]* //p' docker/Dockerfile)
DEPLOY_ROOT = $(BUILD)/check-deploy

.PHONY: programs plugins kit worker-and-plugins check-deploy
programs: $(PROGRAMS)
plugins: $(PLUGINS)
kit: $(KIT_LIB)
worker-and-plugins: $(BUILD)/chanx-worker $(PLUGINS) $(TEST_PLUGINS)

check-deploy:
	@docker-compose -f docker/docker-compose.yml config -q
	@for v in CHANX_DJANGO_SECRET_KEY CHANX_ALLOWED_ORIGINS CHANX_JWT_SECRET CHANX_SESSION_COOKIE_NAME; do \
	  CHANX_DJANGO_SECRET_KEY=x CHANX_ALLOWED_ORIGINS=x CHANX_JWT_SECRET=x CHANX_SESSION_COOKIE_NAME=x \
	    docker-compose -f docker/docker-compose.yml config | grep -q "$$v: x" \
	  || { echo "check-deploy: docker-compose.yml does not pass $$v from .env to the gateways" >&2; exit 1; }; done
	@tests/docs/check_compose_env.sh
	@promtool check config docker/prometheus.yml >/dev/null
	@test -n "$(DOCKER_GOALS)" || { echo "check-deploy: no 'RUN make ... BUILD=DIR goals' in docker/Dockerfile" >&2; exit 1; }
	@for p in $(notdir $(PROGRAMS)); do grep -q "/out/$$p" docker/Dockerfile \
	  || { echo "check-deploy: docker/Dockerfile does not ship $$p" >&2; exit 1; }; done
	@grep -q '^FROM build AS sdk$$' docker/Dockerfile || { echo "check-deploy: docker/Dockerfile has no sdk stage" >&2; exit 1; }
	@grep -q '^COPY db/\*\.sql /usr/share/chanx/$$' docker/Dockerfile && grep -q '"migrate", "--examples"' docker/docker-compose.yml \
	  || { echo "check-deploy: the image must ship db/*.sql and compose's migrate apply them (--examples)" >&2; exit 1; }
	@rm -rf $(DEPLOY_ROOT)
	@$(MAKE) --no-print-directory DESTDIR=$(abspath $(DEPLOY_ROOT)) $(DOCKER_GOALS) >/dev/null
	@PKG_CONFIG_PATH=$(abspath $(DEPLOY_ROOT))/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$(abspath $(DEPLOY_ROOT)) \
	  sh -c 'cc -shared -fPIC $$(pkg-config --cflags chanx) -o $(DEPLOY_ROOT)/chat.so examples/chat/chat.c' \
	  || { echo "check-deploy: the sdk stage's SDK does not build examples/chat with pkg-config" >&2; exit 1; }
	@echo "check-deploy: compose file valid, prometheus.yml valid, image goals '$(DOCKER_GOALS)' build, the sdk stage builds plugins"

# The documentation (docs/index: README.md and docs/*.md): `make docs` builds the site with mkdocs
# (scripts/docs); check-docs builds it in strict mode, so a link to a missing page fails, and checks
# what a site build cannot see (tests/docs/check_docs.py: the README's length, its complete chat
# consumer against examples/chat/chat.c, -Wall -Werror on build lines, anchors).
docs: deps
	@scripts/docs

check-docs:
	@scripts/docs --strict
	@tests/docs/check_docs.py

# pip install ./clients/python and npm install ./clients/js, offline, in a scratch folder.
check-clients:
	@tests/clients_install.sh

# The private PostgreSQL cluster from a checkout in a 0700 folder, as root (scripts/pg-cluster).
check-private-folder:
	@tests/private_folder.sh

# `make run` itself (scripts/run): 2 gateways and 2 workers on free ports, SIGTERM, a failed start.
check-run: all
	@tests/make_run.sh

test-plain: all
	@scripts/run-tests $(BUILD)

test-san:
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 all
	@scripts/run-tests build-san

# ThreadSanitizer over the worker, the one multi-threaded process of ours
# whose threads share consumer state: the suites of the actors, timers, the
# database API and the example that uses them, events meeting full
# mailboxes (mail and group memberships cross from the link thread to the
# pool), and topics (subscriptions join and leave groups from pool threads),
# with chanx-worker and the plugins built with -fsanitize=thread in
# build-tsan/ (gateway, broker and the rest are the plain build's). Only those suites, so that `make test` stays fast. The
# test driver is the plain one too: criterion's arena and TSan's memory
# layout do not mix, and the processes under test are what matters.
TSAN_SUITES := @(actors|timers|db|chat_history|events_overflow|events_overflow_notify|events_burst|ready_point|topics|topics_lifecycle)/*
test-tsan: $(BUILD)/tests/e2e $(PROGRAMS)
	@$(MAKE) --no-print-directory BUILD=build-tsan TSAN=1 worker-and-plugins
	@for p in chanx-gateway chanx-broker chanx-admin chanx-api; do ln -sfn ../$(BUILD)/$$p build-tsan/$$p; done
	@E2E_BIN=$(BUILD)/tests/e2e E2E_FILTER='$(TSAN_SUITES)' scripts/run-tests build-tsan e2e

unit: all
	$(BUILD)/tests/unit

e2e: all
	@scripts/run-tests $(BUILD) e2e

# scripts/bench builds only what it runs (an -O2 build in build/), so a test
# that does not compile yet cannot stop a benchmark.
bench: deps
	@scripts/bench

# Fuzzing (tests/fuzz/README.md): one libFuzzer harness per parser, built
# with clang, ASan and UBSan in build-fuzz/. `make fuzz` runs each for
# FUZZ_SECONDS; `make fuzz-smoke` (part of `make test`) runs each over its
# seed corpus and a few seconds more, so a harness that stops building or
# crashes on a checked-in input fails CI.
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzz/%: tests/fuzz/%.c $(GATEWAY_OBJS) $(WORKER_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"; $(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -rdynamic -o $@ $^ $(LDLIBS_ALL)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=build-fuzz SAN=fuzz CC=clang $(addprefix build-fuzz/fuzz/,$(FUZZ_HARNESSES))

fuzz: deps fuzz-build
	@scripts/fuzz build-fuzz/fuzz $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-smoke: fuzz-build
	@scripts/fuzz build-fuzz/fuzz $(or $(FUZZ_SMOKE_SECONDS),4) $(FUZZ_HARNESSES)

# The soak (tests/soak/soak.py): a real deployment on the sanitized build, chat
# load on both gateways and waves of faults for SOAK_SECONDS (600; 60 for one
# wave), failing at the first broken invariant. Not part of `make test`.
soak: deps
	@scripts/soak

clean:
	rm -rf build build-san build-tsan build-fuzz
