# Tandem: every target defaults to the local cloud (ENV=local). `make help` lists them.
ENV ?= local
TANDEM := target/debug/tandem
CARGO ?= cargo
MOTO_VERSION := 5.2.*
PREVIEW_OUT ?= preview-$(ENV).md
# Crash trials of `make trial-crash`, fault-trial rounds of `make trial-faults`.
TRIALS ?= 30
FAULT_ROUNDS ?= 3

.DEFAULT_GOAL := help
.PHONY: help setup build moto local-up local-down plan preview deploy-primary deploy-secondary \
        deploy-all check-health simulate-outage restore-outage test-failover destroy test bench demo \
        trial-crash trial-faults

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

moto: ## Install the local cloud (moto server) with pip when it is missing
	@command -v moto_server >/dev/null 2>&1 || python3 -c 'import moto.server' >/dev/null 2>&1 || \
	  { echo "installing moto[server]==$(MOTO_VERSION) with pip"; python3 -m pip install --quiet 'moto[server]==$(MOTO_VERSION)'; }

build: ## Build the tandem binary (debug)
	$(CARGO) build --bin tandem

setup: moto build ## Install what Tandem needs and build it

local-up: build ## Start the local cloud (moto + region gateway) in the background
	$(TANDEM) local up --env $(ENV)

local-down: build ## Stop the local cloud
	$(TANDEM) local down --env $(ENV)

plan: build ## Show the plan for ENV
	$(TANDEM) plan --env $(ENV)

preview: build ## Write the pull-request preview (Markdown) of ENV to PREVIEW_OUT
	$(TANDEM) preview --env $(ENV) --format markdown --out $(PREVIEW_OUT)

deploy-primary: build ## Apply the global wave and the primary region
	$(TANDEM) deploy primary --env $(ENV) --yes

deploy-secondary: build ## Apply the secondary region (refuses until the primary is deployed)
	$(TANDEM) deploy secondary --env $(ENV) --yes

deploy-all: build ## Apply every wave in order, stopping before the secondary if the primary fails
	$(TANDEM) deploy all --env $(ENV) --yes

check-health: build ## Probe each region as Route 53's checkers do
	$(TANDEM) check-health --env $(ENV)

simulate-outage: build ## Cut the active region off (local: gateway blackhole; AWS: inverted health check)
	$(TANDEM) simulate-outage --env $(ENV)

restore-outage: build ## Undo simulate-outage
	$(TANDEM) simulate-outage --env $(ENV) --restore

test-failover: build ## Drill a failover and write the report (exit 8: unverified, see README)
	$(TANDEM) drill --env $(ENV) --yes

destroy: build ## Delete everything the stack created in ENV
	$(TANDEM) destroy --env $(ENV) --yes

test: moto ## Run every test (each test binary starts its own moto on a free loopback port), then lint the templates
	$(CARGO) test --workspace
	CARGO=$(CARGO) bash tests/lint_template.sh

bench: moto ## Print the benchmark figures (BENCH name value unit)
	$(CARGO) bench -p tandem-engine --bench engine
	$(CARGO) bench -p tandem-aws --bench apply_buckets
	bash tests/bench_drill.sh

trial-crash: moto ## Crash trials: SIGKILL deploy all/failover/destroy at random moments (TRIALS=30; TANDEM_TRIAL_SEED=N repeats)
	TANDEM_TRIALS=$(TRIALS) $(CARGO) test -p tandem-cli --test e2e -- --exact trials::crash_trials --nocapture

trial-faults: moto ## Fault trials: 20% throttling, 5xx and latency (FAULT_ROUNDS=3), and moto killed and restarted mid-run
	TANDEM_FAULT_ROUNDS=$(FAULT_ROUNDS) $(CARGO) test -p tandem-cli --test e2e -- --exact \
	  trials::fault_trials trials::the_emulator_killed_and_restarted_mid_run --nocapture --test-threads 1

demo: setup ## A fresh local cloud: deploy both regions, outputs, health, drill a failover, the report
	-$(TANDEM) local down --env local
	rm -f .tandem/state/multi-region/local.*
	$(TANDEM) local up --env local
	$(TANDEM) deploy all --env local --yes
	$(TANDEM) output --env local
	$(TANDEM) check-health --env local
	@# Exit 8: the drill measured what the local cloud can measure and says what it cannot
	@# (the database's role after a promotion, the RPO without ReplicaLag) — unverified, not met.
	$(TANDEM) drill --env local --yes || [ $$? -eq 8 ]
	$(TANDEM) status --env local
	@echo "The local cloud is still running: make local-down stops it."
