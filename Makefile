# deferd — delayed and timeout jobs kept in Redis.
#
#   make            build deferd and deferctl (installs missing Debian packages when it can)
#   make demo       order timeouts end to end (private redis-server, example handlers)
#   make run        run deferd in the foreground with config/deferd.yaml (private redis-server if needed)
#   make check      all tests (unit + integration against a real redis-server) and modgraph; alias: make test
#   make modgraph   the daemon's module graph (who calls whom); fails on a cycle
#   make check-asan the same tests built with AddressSanitizer + UBSan
#   make bench-peers deferd beside BullMQ and a ZRANGEBYSCORE+ZREM loop (npm; not in CI)
#   make fuzz       libFuzzer on each parser, FUZZ_SECONDS (60) each (needs clang);
#                   make check replays their corpora (fuzz/corpus/NAME)
#   make deb        the Debian package in build/deb/ (debian/; installs the build tools when it can)
#   make install    PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc (PREFIX=/usr for a package)
#   make uninstall  the same variables; keeps the configuration and handlers
#   make clean

PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
SYSCONFDIR	?= /etc
SYSTEMDUNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
DESTDIR		?=
BUILD		?= build

PKGS		:= hiredis libevent yaml-0.1
CC		?= cc
OPT		?= -O2 -g
WARN		:= -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
SAN		?=
CPPFLAGS	+= -D_GNU_SOURCE -iquote daemon -iquote $(BUILD)
PKG_CFLAGS	 = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS	 = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS	 = $(shell pkg-config --libs check 2>/dev/null)
# -pthread: the spawner (daemon/spawn.c) runs posix_spawn on a thread.
ALL_CFLAGS	 = $(WARN) $(OPT) $(SAN) -pthread $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS	 = $(SAN) -pthread $(LDFLAGS)

LUA_LIB		:= daemon/lua/lib.lua
LUA_SRCS	:= $(filter-out $(LUA_LIB),$(sort $(wildcard daemon/lua/*.lua)))
MAIN_SRCS	:= daemon/deferd.c
CTL_SRCS	:= $(sort $(wildcard daemon/ctl/*.c))
LIB_SRCS	:= $(filter-out $(MAIN_SRCS),$(sort $(wildcard daemon/*.c)))
ASSETS		:= $(sort $(wildcard daemon/dashboard/*))
LIB_OBJS	:= $(LIB_SRCS:daemon/%.c=$(BUILD)/%.o) $(BUILD)/scripts_gen.o \
		   $(BUILD)/dashboard_assets.o
CTL_OBJS	:= $(CTL_SRCS:daemon/%.c=$(BUILD)/%.o)
TEST_SRCS	:= $(sort $(wildcard tests/check_*.c))
TEST_BINS	:= $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_SUPPORT	:= $(BUILD)/tests/harness.o $(BUILD)/tests/proxy.o

# Fuzz targets fuzz/fuzz_NAME.c (P15). make check runs $(BUILD)/fuzz/replay_NAME,
# the target over its seed corpus fuzz/corpus/NAME (fuzz/replay.c, any compiler,
# so also under the sanitizers of check-asan). make fuzz builds everything with
# clang in $(FUZZ_BUILD) and runs $(FUZZ_BUILD)/fuzz/fuzzer_NAME under libFuzzer,
# one target at a time: make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS="config reply".
FUZZ_SRCS	:= $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES	:= $(FUZZ_SRCS:fuzz/fuzz_%.c=%)
FUZZ_REPLAYS	:= $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
FUZZ_SUPPORT	:= $(BUILD)/fuzz/common.o
FUZZ_CC		?= clang
FUZZ_BUILD	?= build-fuzz
FUZZ_SECONDS	?= 60
FUZZ_TARGETS	?= $(FUZZ_NAMES)
FUZZ_FLAGS	?=
FUZZ_SAN	:= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TEST_BINS	+= $(FUZZ_REPLAYS)

.PHONY: deb all deps run check test check-asan modgraph install uninstall clean bench bench-peers demo
.PHONY: fuzz fuzz-run clean-fuzz
.SECONDARY:

all: $(BUILD)/.deps-ok $(BUILD)/deferd $(BUILD)/deferctl

deps $(BUILD)/.deps-ok:
	@tools/deps.sh
	@mkdir -p $(BUILD) && touch $(BUILD)/.deps-ok

$(BUILD)/scripts_gen.c: tools/embed-lua.sh tools/lua-lib-for.awk $(LUA_LIB) $(LUA_SRCS) | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	tools/embed-lua.sh $@ $(LUA_LIB) $(LUA_SRCS)

$(BUILD)/%.o: daemon/%.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/scripts_gen.o: $(BUILD)/scripts_gen.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/dashboard_assets.c: tools/embed-assets.sh $(ASSETS) | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	tools/embed-assets.sh $@ $(ASSETS)

$(BUILD)/dashboard_assets.o: $(BUILD)/dashboard_assets.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libdeferd.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/deferd: $(BUILD)/deferd.o $(BUILD)/libdeferd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/deferctl: $(CTL_OBJS) $(BUILD)/libdeferd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/%.o: tests/%.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/check_%: $(BUILD)/tests/check_%.o $(TEST_SUPPORT) $(BUILD)/libdeferd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lm

$(BUILD)/fuzz/%.o: fuzz/%.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/replay.o $(FUZZ_SUPPORT) $(BUILD)/libdeferd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/fuzz/fuzzer_%: $(BUILD)/fuzz/fuzz_%.o $(FUZZ_SUPPORT) $(BUILD)/libdeferd.a
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm

# Every test binary runs even when an earlier one failed; the target fails if any did.
check: all $(TEST_BINS)
	@tools/modgraph $(BUILD) > $(BUILD)/modgraph.txt || { cat $(BUILD)/modgraph.txt; exit 1; }
	@tail -1 $(BUILD)/modgraph.txt
	@DEFERD_BUILD=$(abspath $(BUILD)) tools/run-tests.sh $(TEST_BINS)

# Lower modules never call up: the graph of daemon/ must stay acyclic.
modgraph: all
	tools/modgraph $(BUILD)

test: check

check-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check

# libFuzzer needs clang; the whole library is rebuilt with coverage in $(FUZZ_BUILD).
fuzz:
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	    $(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT="-O1 -g" \
	        CFLAGS="$(CFLAGS) -Wno-unknown-warning-option" \
	        SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" fuzz-run; \
	else \
	    echo "make fuzz needs clang with libFuzzer (Debian: apt-get install clang);"; \
	    echo "make check replays the corpora in fuzz/corpus without it"; \
	fi

# Each target in turn, growing its corpus in $(BUILD)/fuzz/corpus/NAME (the
# seeds in fuzz/corpus/NAME are only read); a crash stops the run and its
# input is left in $(BUILD)/fuzz/crash/.
fuzz-run: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzzer_%)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/crash || exit 1; \
	    echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	    $(BUILD)/fuzz/fuzzer_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -artifact_prefix=$(BUILD)/fuzz/crash/$$t- $(FUZZ_FLAGS) \
	        $(BUILD)/fuzz/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

run: all
	@tools/run.sh $(BUILD)

# Order timeouts end to end: private redis-server, deferd, two orders, one paid.
demo: all
	@tools/demo.sh $(BUILD)

bench: all
	@bench/run-all

# Side by side with BullMQ (npm, pinned in bench/peers) and the seed loop; not in CI.
bench-peers: all
	@BUILD=$(BUILD) bench/peers/run

# The unit's ExecStart= and -c path are rewritten to the installed ones. An
# existing deferd.yaml is never overwritten. Without DESTDIR and as root, the
# deferd user is created at once (systemd-sysusers) and given the config's group.
# The Debian package, in build/deb/ (tools/deb.sh; debian/).
deb:
	@tools/deb.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/deferd $(DESTDIR)$(SBINDIR)/deferd
	install -m 0755 $(BUILD)/deferctl $(DESTDIR)$(BINDIR)/deferctl
	sed -e 's|^ExecStart=[^ ]*/deferd -c [^ ]*$$|ExecStart=$(SBINDIR)/deferd -c $(SYSCONFDIR)/deferd/deferd.yaml|' \
	    systemd/deferd.service > $(DESTDIR)$(SYSTEMDUNITDIR)/deferd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/deferd.service
	install -m 0644 systemd/deferd.sysusers $(DESTDIR)$(SYSUSERSDIR)/deferd.conf
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/deferd/handlers.d
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/deferd/deferd.yaml ]; then \
	    echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/deferd/deferd.yaml"; \
	else \
	    sed 's|^\(  dir: \).*|\1$(SYSCONFDIR)/deferd/handlers.d|' config/deferd.yaml > $(DESTDIR)$(SYSCONFDIR)/deferd/deferd.yaml && \
	    chmod 0640 $(DESTDIR)$(SYSCONFDIR)/deferd/deferd.yaml; \
	fi
	@for m in $(wildcard man/*.[1-8]); do \
	    s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
	    install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
	    systemd-sysusers $(SYSUSERSDIR)/deferd.conf && \
	    chgrp deferd $(SYSCONFDIR)/deferd/deferd.yaml; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/deferd $(DESTDIR)$(BINDIR)/deferctl
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/deferd.service $(DESTDIR)$(SYSUSERSDIR)/deferd.conf
	@for m in $(wildcard man/*.[1-8]); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/deferd (configuration and handlers) and the deferd user"

clean:
	rm -rf build build-asan

clean: clean-fuzz
clean-fuzz:
	rm -rf $(FUZZ_BUILD)

-include $(wildcard $(BUILD)/*.d $(BUILD)/ctl/*.d $(BUILD)/tests/*.d)
-include $(wildcard $(BUILD)/fuzz/*.d)
