# mailtask — build, test, benchmark.
GO ?= go

.PHONY: build test vet fmt-check bench fuzz clean

build:
	$(GO) build -o mailtask ./cmd/mailtask

# The one test command (README, .ci/run). Integration tests start their own
# Dovecot on loopback; with CI=true a missing Dovecot fails instead of skips.
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 9m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Benchmarks; not part of `make test`.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

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
