# devstack — `make up` brings the stack up, `make test` runs every test.
# Both start a Docker engine first when none answers (scripts/ensure-docker.sh)
# and fall back to locally built stand-in images when the official ones
# cannot be pulled (scripts/images.sh).

BIN := bin/devstack
# Export the image choice of scripts/images.sh into the recipe's shell.
IMAGES := eval "$$(scripts/images.sh)"; export DEVSTACK_MYSQL_IMAGE DEVSTACK_REDIS_IMAGE DEVSTACK_GEARMAND_IMAGE DEVSTACK_MYSQL_ORACLE_IMAGE DEVSTACK_MARIADB_PLAIN_IMAGE DEVSTACK_MYSQL_PLAIN_IMAGE
# The images built otherwise inside than the stand-ins (TestOtherImages),
# whatever images the rest of the tests run on: always built locally.
OTHER_IMAGES := eval "$$(scripts/local-images.sh | grep -E '^DEVSTACK_(MARIADB_RUNTIME|MYSQL_SERVER|MARIADB_NONROOT)_IMAGE=')"; export DEVSTACK_MARIADB_RUNTIME_IMAGE DEVSTACK_MYSQL_SERVER_IMAGE DEVSTACK_MARIADB_NONROOT_IMAGE
# testcontainers: Ryuk cannot be pulled without a registry, and devstack
# cleans up by label itself; the host override keeps it off the gateway
# address when this machine looks like a container.
TEST_ENV := TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1

.PHONY: build up down status docker local-images test-deps test test-plain test-images test-engines unit chaos vet bench compose docs

build:
	go build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev) -X main.commit=$$(git rev-parse HEAD 2>/dev/null)" -o $(BIN) ./cmd/devstack

docker:
	@scripts/ensure-docker.sh

local-images: docker
	@scripts/local-images.sh

up: build docker
	@$(IMAGES); $(BIN) up

down: build
	@$(BIN) down

status: build
	@$(BIN) status

test-deps:
	@scripts/test-deps.sh
	@scripts/compose.sh

# The integration tests that run again on the second MySQL flavour (Oracle
# MySQL, when the first is the MariaDB stand-in): up, seed, users, reset,
# env, the schema, templates and the harness.
OTHER_FLAVOUR_TESTS := TestUpStatus|TestSecondUp|TestSeededState|TestSeededRows|TestDjango|TestSeedTwice|TestEditedFixture|TestResetRestores|TestUsersAddRemove|TestEnv|TestSchema|TestOlderStack|TestColdUps|TestFourParallel|TestIngest|TestTransfer|TestStackStartsClean|TestSeededAdmin|TestMySQLClients|TestComposeStackIsDevstacks|TestLogsShellAndSharedFiles|TestServerOptions|TestStatusAfterAFailedUp|TestSnapshotRoundTrip|TestTarget

# make test runs the lifecycle on one image unlike the stand-ins (shaped like
# Oracle's mysql/mysql-server); make test-images on all three.
test: docker test-deps
	@$(IMAGES); $(OTHER_IMAGES); $(TEST_ENV) DEVSTACK_OTHER_IMAGES="$$DEVSTACK_MYSQL_SERVER_IMAGE" go test -count=1 -timeout 25m ./...
	@$(IMAGES); if [ -n "$$DEVSTACK_MYSQL_ORACLE_IMAGE" ]; then \
		echo "devstack: the integration tests again on Oracle MySQL ($$DEVSTACK_MYSQL_ORACLE_IMAGE)"; \
		DEVSTACK_MYSQL_IMAGE=$$DEVSTACK_MYSQL_ORACLE_IMAGE $(TEST_ENV) go test -count=1 -timeout 20m \
			-run '$(OTHER_FLAVOUR_TESTS)' ./cmd/devstack/ ./emulator/devstacktest/ ./examples/...; fi

# The same tests on the stand-ins that carry the official images' defaults
# instead of tuning (MariaDB and Oracle MySQL, set up as the official
# entrypoints do): devstack must be right, and quick, on images it did not
# tune. Not part of make test (CI's budget); make bench measures them.
test-plain: docker test-deps
	@$(IMAGES); for img in $$DEVSTACK_MARIADB_PLAIN_IMAGE $$DEVSTACK_MYSQL_PLAIN_IMAGE; do \
		echo "devstack: the integration tests on $$img"; \
		DEVSTACK_MYSQL_IMAGE=$$img $(TEST_ENV) go test -count=1 -timeout 20m \
			-run '$(OTHER_FLAVOUR_TESTS)|TestTemplateOfAnImageWithHostnameAccounts|TestCrashingService|TestVolumeWithOtherCredentials' ./cmd/devstack/ ./emulator/devstacktest/ ./examples/... || exit 1; done

# The lifecycle on every image unlike the stand-ins: MariaDB prepared at run
# time by its entrypoint, Oracle MySQL shaped like mysql/mysql-server, and
# MariaDB run as a non-root user.
test-images: docker test-deps
	@$(IMAGES); $(OTHER_IMAGES); $(TEST_ENV) DEVSTACK_OTHER_IMAGES="$$DEVSTACK_MARIADB_RUNTIME_IMAGE $$DEVSTACK_MYSQL_SERVER_IMAGE $$DEVSTACK_MARIADB_NONROOT_IMAGE" \
		go test -count=1 -timeout 20m -run 'TestOtherImages' ./cmd/devstack/

# The core of the lifecycle (TestEngineCore) on each engine this machine can
# start beside the default one (scripts/engines.sh): Podman rootful and
# rootless, rootless Docker, a remote dockerd over tcp:// and over ssh://,
# Docker 28. ENGINES=name... picks some.
ENGINES ?= podman podman-rootless docker-rootless docker-tcp docker-ssh docker28
test-engines: docker test-deps
	@$(IMAGES); for e in $(ENGINES); do \
		host=$$(scripts/engines.sh start $$e | sed -n 's/^DOCKER_HOST=//p'); [ -n "$$host" ] || exit 1; \
		scripts/engines.sh images $$e $$DEVSTACK_MYSQL_IMAGE $$DEVSTACK_REDIS_IMAGE || exit 1; \
		echo "devstack: the lifecycle's core on $$e ($$host)"; \
		DOCKER_HOST=$$host $(TEST_ENV) go test -count=1 -timeout 20m -run '^TestEngineCore$$' ./cmd/devstack/ || exit 1; done

# The fault suite: kills, crashes, removed networks, taken ports, an engine
# restart (only of an engine this run started); one case at a time, then a
# table of the cases.
chaos: docker test-deps
	@$(IMAGES); $(TEST_ENV) go test -tags chaos -run '^TestChaos$$' -count=1 -v -timeout 15m ./cmd/devstack/

# Unit tests only: -short skips every test that needs Docker, so this runs
# anywhere (CI runs it with DOCKER_HOST pointing nowhere).
unit:
	go test -short -count=1 ./...

vet:
	gofmt -l . | (! grep .)
	go vet ./...

# compose/docker-compose.yml is `devstack compose` for the default config:
# no DEVSTACK_* variable, no devstack.yaml.
compose:
	env $$(env | sed -n 's/^\(DEVSTACK_[A-Z_]*\)=.*/-u \1/p') go run ./cmd/devstack -c /dev/null compose > compose/docker-compose.yml

# docs/commands/ is the command reference, generated from the commands
# themselves (cobra/doc); TestCommandReference fails when it is out of date.
docs:
	go test -short -count=1 -run '^TestCommandReference$$' ./cmd/devstack/ -args -update

# devstack against docker compose plus a bootstrap script, on each MySQL
# flavour this machine has, in one run: medians, spreads and ratios, as a
# table and as JSON (bench.json). BENCH_RUNS sets the runs per figure.
bench: docker test-deps
	@scripts/compose.sh
	@$(IMAGES); $(OTHER_IMAGES); $(TEST_ENV) BENCH_JSON=$(CURDIR)/bench.json go test -run '^$$' -bench '^BenchmarkStack$$' -benchtime 1x -timeout 60m ./cmd/devstack/
