# vimeo-up: hand-written GNU make.
#   make                 build/vimeo-up and build/vimeo-sandbox
#   make check           install what is missing (make deps), build, run every suite
#   make check-asan      the suites again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make check-tsan      the suites again under ThreadSanitizer
#   make check-valgrind  a faulty upload under valgrind's memcheck
#   make check-fuzz      libFuzzer on every parser of outside data (FUZZ_SECONDS each)
#   make check-reliability  a soak through random faults, a kill -9 loop, journal kills
#   make check-live      against the real Vimeo with VIMEO_UP_LIVE_TOKEN (tests/live/run);
#                        without it, one line saying so
#   make demo            install what the build needs (make deps-build), build, upload a few
#                        generated files to a local sandbox
#   make install         PREFIX=/usr/local DESTDIR= (the program, its man page, bash and zsh completion)
#   make uninstall       the same PREFIX and DESTDIR
#   V=1 shows the commands; WERROR=1 turns warnings into errors (CI).

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
PYTHON ?= /usr/bin/python3
CFLAGS ?= -O2 -g
SAN ?=
WARNINGS := -Wall -Wextra $(if $(WERROR),-Werror)
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer $(if $(findstring undefined,$(SAN)),-fno-sanitize-recover=all))
VERSION := 0.1.0

PKG_CORE := libcurl sqlite3
PKG_TUI := ncursesw
PKG_SANDBOX := libmicrohttpd libcrypto libxxhash
PKG_TEST := cmocka

pkg = $(shell pkg-config $(1) $(2) 2>/dev/null)

ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DVIMEO_UP_VERSION='"$(VERSION)"' $(WARNINGS) $(CFLAGS) $(SANFLAGS) -pthread -MMD -MP
LDFLAGS += $(SANFLAGS) -pthread

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

CORE_SRC := $(wildcard core/*.c core/util/*.c)
TUI_SRC := $(wildcard tui/*.c)
SANDBOX_SRC := $(wildcard tests/sandbox/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 60

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
TUI_OBJ := $(TUI_SRC:%.c=$(BUILD)/%.o)
SANDBOX_OBJ := $(SANDBOX_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
CORE_LIB := $(BUILD)/libvimeoup.a
TUI_LIB := $(BUILD)/libvimeoup-tui.a

PROGRAMS := $(if $(TUI_SRC),$(BUILD)/vimeo-up) $(BUILD)/vimeo-sandbox

.PHONY: all check check-asan check-tsan check-valgrind check-fuzz check-reliability check-live fuzzers check-run deps deps-build demo bench install uninstall clean
all: $(PROGRAMS) $(UNIT_BIN)

$(BUILD)/core/%.o: core/%.c
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) $(call pkg,--cflags,$(PKG_CORE)) -c $< -o $@

$(BUILD)/tui/%.o: tui/%.c
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) -Icore $(call pkg,--cflags,$(PKG_TUI) $(PKG_CORE)) -c $< -o $@

$(BUILD)/tests/sandbox/%.o: tests/sandbox/%.c
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) $(call pkg,--cflags,$(PKG_SANDBOX)) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

# The program's modules but main, so unit tests can link them.
$(TUI_LIB): $(filter-out %/main.o,$(TUI_OBJ))
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(BUILD)/vimeo-up: $(BUILD)/tui/main.o $(TUI_LIB) $(CORE_LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) $^ -o $@ $(call pkg,--libs,$(PKG_TUI) $(PKG_CORE)) -lm

$(BUILD)/vimeo-sandbox: $(SANDBOX_OBJ)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) $^ -o $@ $(call pkg,--libs,$(PKG_SANDBOX))

# Unit tests link the program's modules, the core library and the sandbox's
# modules (its own parsers are tested too); archives pull in only what a
# test uses.
TEST_LINK := $(filter-out %/sandbox.o,$(SANDBOX_OBJ)) $(TUI_LIB) $(CORE_LIB)
$(BUILD)/tests/unit/test_%: tests/unit/test_%.c $(TEST_LINK)
	$(call say,TEST,$@)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) -Icore -Itui -Itests/sandbox \
		$(call pkg,--cflags,$(PKG_TEST) $(PKG_CORE)) $< $(TEST_LINK) -o $@ $(LDFLAGS) \
		$(call pkg,--libs,$(PKG_TEST) $(PKG_TUI) $(PKG_CORE) $(PKG_SANDBOX)) -lm

# libFuzzer harnesses: the core built by clang with coverage, ASan and UBSan.
$(BUILD)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_LIB)
	$(call say,FUZZ,$@)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Icore \
		$(call pkg,--cflags,$(PKG_CORE)) $< $(CORE_LIB) -o $@ $(LDFLAGS) -fsanitize=fuzzer \
		$(call pkg,--libs,$(PKG_CORE)) -lm

fuzzers: $(FUZZ_BIN)

# deps: everything the tests need; deps-build: only the build and the sandbox.
deps:
	$(Q)tests/deps

deps-build:
	$(Q)tests/deps build

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory check-run

check-run:
	$(Q)VIMEO_UP_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/run.py

# Two makes, not one with two goals: under -j the tests would start before the build.
check-asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=address,undefined CFLAGS='-O1 -g' all
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=address,undefined CFLAGS='-O1 -g' check-run

check-tsan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan SAN=thread CFLAGS='-O1 -g' all
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan SAN=thread CFLAGS='-O1 -g' check-run

check-fuzz: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang SAN=fuzzer-no-link,address,undefined \
		CFLAGS='-O1 -g' fuzzers
	$(Q)tests/fuzz/run build/fuzz $(FUZZ_SECONDS)

check-reliability: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)VIMEO_UP_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/reliability/reliability.py

check-valgrind: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)VIMEO_UP_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/memcheck/memcheck.py

# Without a token only the line that says so: nothing to install or build.
check-live:
	$(Q)if [ -z "$$VIMEO_UP_LIVE_TOKEN" ]; then tests/live/run; else tests/deps live && \
		$(MAKE) --no-print-directory -s $(BUILD)/vimeo-up && VIMEO_UP_BUILD=$(abspath $(BUILD)) tests/live/run; fi

demo: deps-build
	$(Q)$(MAKE) --no-print-directory $(PROGRAMS)
	$(Q)tests/demo

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bench/run

# Completion goes where bash-completion and zsh look under PREFIX; the
# scripts come from the program (vimeo-up completion), made from its options.
BASH_COMPLETION_DIR = $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR = $(PREFIX)/share/zsh/site-functions

install: $(BUILD)/vimeo-up
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(BASH_COMPLETION_DIR) $(DESTDIR)$(ZSH_COMPLETION_DIR)
	install -m 0755 $(BUILD)/vimeo-up $(DESTDIR)$(PREFIX)/bin/vimeo-up
	install -m 0644 man/vimeo-up.1 $(DESTDIR)$(PREFIX)/share/man/man1/vimeo-up.1
	$(BUILD)/vimeo-up completion bash > $(BUILD)/vimeo-up.bash
	$(BUILD)/vimeo-up completion zsh > $(BUILD)/_vimeo-up
	install -m 0644 $(BUILD)/vimeo-up.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/vimeo-up
	install -m 0644 $(BUILD)/_vimeo-up $(DESTDIR)$(ZSH_COMPLETION_DIR)/_vimeo-up

# Only what install put there: the directories may hold other programs.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vimeo-up $(DESTDIR)$(PREFIX)/share/man/man1/vimeo-up.1 \
		$(DESTDIR)$(BASH_COMPLETION_DIR)/vimeo-up $(DESTDIR)$(ZSH_COMPLETION_DIR)/_vimeo-up

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
