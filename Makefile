# mailtask — build, test, benchmark.
GO ?= go

.PHONY: build test race-tests extract-tests vet vet-then-staticcheck lint staticcheck deadcode fmt-check bench soak fuzz clean

build:
	$(GO) build -o mailtask ./cmd/mailtask

# The one test command (README, .ci/run). Integration tests start their own
# Dovecot, PostgreSQL and versitygw on loopback; with CI=true a missing one
# fails instead of skips (.ci/run installs them). The import rules (which
# package may use which; testmail never in the binary) are a test of their
# own, internal/layering.
#
# go test starts packages in the order it is given them, -p at a time,
# and each holds its place until its tests end. LONG_TESTS are the
# packages whose tests take longest, mostly waiting on the servers,
# leases and child processes they start (in make test: cmd/mailtask 280
# s, the others 60-120 s; go test drops them where ./... lists them
# again); in ./...'s order tasks/popimap started last and ended make test
# alone on one core. -p 6: those five and the other packages' compiles
# and tests beside them. -parallel 4: a package's t.Parallel tests are
# those that mostly wait (on leases, child processes, servers' stalls),
# and go test runs GOMAXPROCS of them at once, 2 here; cmd/mailtask's
# cluster chaos test (60 s, half a core) then started after the crash
# suites and ended make test alone. -timeout 20m is for a test that hangs,
# not a bound on speed: cmd/mailtask takes about 4 minutes on two quiet
# cores, and reached 9 (the limit before) with other builds and tests
# beside it (load 17-34), where it then failed though nothing was wrong.
#
# vet and the linters run beside the tests, not before them: from a fresh
# clone they took 80 s before the first test could start, much of it on
# one core. make fails if any of them does. staticcheck runs after vet:
# both compile the packages for their export data, and side by side each
# compiled them (staticcheck from a fresh clone: 65 CPU-s alone, 40 after
# vet). deadcode, which compiles nothing, runs beside them. The tests
# run with -vet=off: go test's own vet is a subset of the vet target's
# analyzers, and doing it twice cost about 12 CPU-s of make test's 500.
#
# internal/extract's tests run without -race (extract-tests): they are
# differential oracles over generated corpora, one goroutine each, where
# the race detector can find nothing and multiplied their CPU by six (28
# CPU-s against 4.5). extract starts no goroutine of its own; the
# pipeline's tests (tasks/popimap) run it in parallel parse workers and
# read its files from another goroutine, under -race.
test: fmt-check
	@$(MAKE) --no-print-directory -j 4 --output-sync=line vet-then-staticcheck deadcode race-tests extract-tests

vet-then-staticcheck:
	@$(MAKE) --no-print-directory vet
	@$(MAKE) --no-print-directory staticcheck

LONG_TESTS = ./cmd/mailtask ./internal/scheduler ./internal/pgstore ./tasks/popimap ./internal/testmail
race-tests:
	pkgs=$$($(GO) list ./...) && \
	$(GO) test -race -vet=off -count=1 -p 6 -parallel 4 -timeout 20m $(LONG_TESTS) $$(echo "$$pkgs" | grep -v '/internal/extract$$')

extract-tests:
	$(GO) test -vet=off -count=1 -timeout 20m ./internal/extract

vet:
	$(GO) vet ./...

# staticcheck, and deadcode for functions nothing reaches (from main or a
# test). Their versions are pinned in tools/go.mod, a module of its own so
# that the linters' dependencies never change the binary's; the first run
# downloads them, later ones work offline.
TOOL = $(GO) tool -modfile=tools/go.mod
lint: staticcheck deadcode

staticcheck:
	$(TOOL) staticcheck ./...

deadcode:
	@out=$$($(TOOL) deadcode -test ./...); \
	if [ -n "$$out" ]; then echo "deadcode: unreachable functions:"; echo "$$out"; exit 1; fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Benchmarks; not part of `make test`. First the comparison of
# internal/bench: mailtask against the wire limit, getmail6 and fetchmail on
# a generated corpus in a loopback Dovecot, the 150 MB message, a batch of
# 6 MB messages, the memory budget (wall, CPU and peak RSS against the wire
# limit on 500 messages of 330 MB and 30 of 4 MB attachments), the
# 100,000-message mailbox and the delay from APPEND to files durable under
# IMAP IDLE, and cluster mode's claims, scale and corpus on PostgreSQL and
# S3; then the packages' own. It needs dovecot-imapd, dovecot-pop3d,
# getmail6, fetchmail, time and postgresql (Debian packages) and versitygw
# (.ci/run builds it); BENCH_* variables size it (see
# internal/bench/bench_test.go, claims_test.go, cluster_test.go). The comparison
# comes first because the package benchmarks delete thousands of files, and
# on ext4 without a journal creating a file within minutes of that costs far
# more (see internal/bench/doc.go).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count=1 -timeout 90m ./internal/bench
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $$($(GO) list ./... | grep -v /internal/bench)

# The crash suites of `make test` (cmd/mailtask: the file store's and
# PostgreSQL's), with many more kills, and cluster mode's `state retry
# --from-copy` killed at every file-system event of a clean one rather than
# a sample (MAILTASK_SOAK=1); the cluster chaos test at full size
# (200 mailboxes, 90 seconds of faults), straight to PostgreSQL and again
# through PgBouncer in transaction mode; then the exhaustive variants of the
# tests that `make test` runs a sample of (MAILTASK_SOAK=1:
# internal/extract's skeleton and ParseAt oracles, without -race for the
# reason make test's extract-tests gives; the scheduler's and the
# pipeline's tests, whose slowest run 200 tasks and 10,000 messages
# instead of 40 and 2,000, and whose mox test takes the whole fidelity
# corpus), and every test of
# internal/pgstore through PgBouncer in transaction and in session mode
# (make test runs a sample through it).
SOAK_KILLS ?= 1000
SOAK_MESSAGES ?= 2000
SOAK_CHAOS_MAILBOXES ?= 200
SOAK_CHAOS_SECONDS ?= 90
soak:
	MAILTASK_CRASH_KILLS=$(SOAK_KILLS) MAILTASK_CRASH_MESSAGES=$(SOAK_MESSAGES) \
	MAILTASK_CRASH_PG_KILLS=$(SOAK_KILLS) MAILTASK_CRASH_PG_MESSAGES=$(SOAK_MESSAGES) MAILTASK_SOAK=1 \
	  $(GO) test -run '^(TestCrashSuite(Postgres)?|TestStateRetryFromCopyInTheClusterSurvivesAKillAnywhere)$$' -count=1 -timeout 90m -v ./cmd/mailtask
	MAILTASK_CHAOS_MAILBOXES=$(SOAK_CHAOS_MAILBOXES) MAILTASK_CHAOS_SECONDS=$(SOAK_CHAOS_SECONDS) \
	  $(GO) test -race -run '^TestClusterChaos$$' -count=1 -timeout 60m -v ./cmd/mailtask
	MAILTASK_CHAOS_POOL_MODE=transaction MAILTASK_CHAOS_MAILBOXES=$(SOAK_CHAOS_MAILBOXES) MAILTASK_CHAOS_SECONDS=$(SOAK_CHAOS_SECONDS) \
	  $(GO) test -race -run '^TestClusterChaos$$' -count=1 -timeout 60m -v ./cmd/mailtask
	MAILTASK_SOAK=1 $(GO) test -count=1 -timeout 90m ./internal/extract
	MAILTASK_SOAK=1 $(GO) test -race -count=1 -timeout 30m ./internal/scheduler ./tasks/popimap
	MAILTASK_TEST_POOL_MODE=transaction $(GO) test -race -count=1 -timeout 30m ./internal/pgstore
	MAILTASK_TEST_POOL_MODE=session $(GO) test -race -count=1 -timeout 30m ./internal/pgstore

# A short run of every fuzz target (go test allows one target per run).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -f mailtask
