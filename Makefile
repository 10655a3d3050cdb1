# slipway's entry points. `make demo` and `make test` work on a fresh Debian machine with
# Python 3.11 and Go: each installs what it needs and is safe to run twice.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed-$(shell cat requirements.txt app/requirements-test.txt 2>/dev/null | sha256sum | cut -c1-12)
SANDBOXCTL := sandbox/sandboxctl.py
# Debian packages: the sandbox's Docker engine, the images' root file system maker, the Redis
# server the demo app's queue tests run against (and the sandbox's Redis image), and the real
# node's runtime, pod network and host plumbing (runc, CNI plugins, nftables, socat, iproute2).
DEBIAN_PACKAGES := docker.io debootstrap redis-server runc containernetworking-plugins nftables socat iproute2
SANDBOX_ENV = eval "$$(python3 $(SANDBOXCTL) env)"

.PHONY: help deps venv sandbox-up sandbox-down sandbox-purge sandbox-status sandbox-env demo lint test molecule bench ee

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

deps: ## Install the Debian packages the sandbox needs (root)
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV_STAMP) ## Create the virtualenv with the pinned Python packages

$(VENV_STAMP): requirements.txt $(wildcard app/requirements-test.txt)
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q -r requirements.txt $(if $(wildcard app/requirements-test.txt),-r app/requirements-test.txt)
	rm -f $(VENV)/.installed-* && touch $@

sandbox-up: deps venv ## Build if needed and start the sandbox cluster and its Docker engine
	$(PYTHON) $(SANDBOXCTL) up

sandbox-down: ## Stop the sandbox (its state is kept for a warm start)
	python3 $(SANDBOXCTL) down

sandbox-purge: ## Stop the sandbox and delete its state
	python3 $(SANDBOXCTL) down --purge

sandbox-status: ## Show the sandbox's processes and nodes
	@$(PYTHON) $(SANDBOXCTL) status

sandbox-env: ## Print export lines to use the sandbox: eval "$(make -s sandbox-env)"
	@python3 $(SANDBOXCTL) env

demo: sandbox-up ## Start the sandbox, run site.yml against it, and say where the app answers
	$(SANDBOX_ENV) && $(VENV)/bin/ansible-playbook site.yml -i inventory/sandbox && \
		echo "The demo app answers at http://frontend.localhost:$$SLIPWAY_SANDBOX_INGRESS_PORT/card/helloworld"

lint: venv ## yamllint and ansible-lint (production profile)
	$(VENV)/bin/yamllint --strict .
	$(VENV)/bin/ansible-lint --profile production

# The linters and the molecule scenario run beside the tests, which leave a core idle most of
# the time (they wait on rollouts). Three workers, a test file each at a time (a file's tests
# share one deployment; the real node's two CPUs fit the requests of the four apps that can run
# at once), the longest files first (tests/conftest.py) so none is left running alone at the
# end; the tests that restart a sandbox component run alone afterwards.
test: sandbox-up venv ## The whole test suite, against the sandbox
	@lint_log=$$(mktemp); molecule_log=$$(mktemp); \
	$(MAKE) --no-print-directory lint > $$lint_log 2>&1 & lint=$$!; \
	$(MAKE) --no-print-directory molecule > $$molecule_log 2>&1 & molecule=$$!; \
	$(SANDBOX_ENV) && $(VENV)/bin/pytest -n 3 --dist loadfile --durations=25 -m "not serial"; tests=$$?; \
	wait $$lint; linted=$$?; wait $$molecule; converged=$$?; \
	echo "--- lint"; cat $$lint_log; echo "--- molecule"; cat $$molecule_log; rm -f $$lint_log $$molecule_log; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ] && [ $$converged -eq 0 ]
	$(SANDBOX_ENV) && $(VENV)/bin/pytest -m serial

molecule: sandbox-up ## The molecule scenario: site.yml converge, idempotence, verify, side effect
	$(SANDBOX_ENV) && PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s default

# The Debian base is made on the sandbox's engine and the image built there; a re-run with unchanged
# inputs finds the image (its tag is a digest of them) and builds nothing.
ee: sandbox-up venv ## Build the AWX execution environment (ee/build.sh) on the sandbox's Docker engine
	$(SANDBOX_ENV) && PYTHON=$(PYTHON) ee/build.sh

bench: sandbox-up ## Benchmarks against kubectl and kubernetes.core (figures, not pass/fail)
	$(SANDBOX_ENV) && $(PYTHON) bench/run
