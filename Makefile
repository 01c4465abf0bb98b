# Thin wrappers over scripts/ (see README.md).
.PHONY: run test bench fuzz lint build stop format clean

run:
	@scripts/run

test:
	@scripts/test

bench:
	@scripts/bench

fuzz:
	@scripts/fuzz

lint:
	@scripts/lint

build:
	@scripts/build

format:
	@scripts/lint --fix

stop:
	@scripts/pg stop
	@KILN_HOME=$(CURDIR)/.kiln/test scripts/pg stop 2>/dev/null || true

clean:
	rm -rf build build-asan build-fuzz
