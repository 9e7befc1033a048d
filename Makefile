# Quick start: `make run` (install what is missing, build, start one node) and `make test`.
BUILD_DIR ?= build
JOBS ?= 2
PACKAGES := cmake g++ make pkg-config libcaf-dev libssl-dev libprotobuf-dev protobuf-compiler \
  libleveldb-dev libsnappy-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev \
  libbenchmark-dev librestinio-dev libasio-dev libhttp-parser-dev libcpp-httplib-dev \
  libcli11-dev libsimdjson-dev libjemalloc-dev prometheus wrk etcd-server curl chromium openssl
# npx runs the OpenAPI validator (tests/system/openapi_test.cpp); Debian's npm brings it and
# nodejs. A machine with NodeSource's nodejs has npx already, and that nodejs conflicts with
# Debian's npm.
PACKAGES += $(if $(shell command -v npx),,npm)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps configure build run test bench cluster cluster-stop clean image image-deps image-base \
  image-test check-deploy fuzz fuzz-deps fuzz-targets

# $(call install_missing,PACKAGES): apt-get installs those of PACKAGES not installed yet.
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	  | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps:
	$(call install_missing,$(PACKAGES))

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/bin/keel-node

# Every test, then each fuzz target for TEST_FUZZ_SECONDS (docs/operations.md, "Fuzzing"),
# built at -O0 in a directory of its own: the ASan build of the libraries is most of that
# run's cost, and -O0 compiles it in about half the time of -O1.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j1 --timeout 600
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) FUZZ_DIR=$(TEST_FUZZ_DIR) \
	  FUZZ_OPT=-O0

bench: build
	$(BUILD_DIR)/bin/keel-bench

# etcd on 127.0.0.1:23790 (data in ./data/etcd) and nodes n1..n3 on HTTP ports 8081..8083.
cluster: build
	apps/cluster/start-cluster.sh $(BUILD_DIR)/bin ./data

cluster-stop:
	apps/cluster/stop-cluster.sh ./data

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR) $(TEST_FUZZ_DIR)

# libFuzzer targets (fuzz/): built with clang, ASan and UBSan in $(FUZZ_DIR), each run for
# FUZZ_SECONDS on a copy of its seed corpus; fails on the first crash, leak, hang or
# undefined behaviour, keeping the input in $(FUZZ_DIR)/fuzz-crashes/TARGET/.
# libclang-rt-14-dev (libFuzzer and the sanitizers) is only recommended by clang, and
# deps installs without recommends.
FUZZ_DIR ?= fuzz-build
FUZZ_OPT ?= -O1
FUZZ_SECONDS ?= 60
TEST_FUZZ_DIR ?= fuzz-build-O0
TEST_FUZZ_SECONDS ?= 15
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_TARGETS := json_body http_path http_request trace_parent stored_record wire_message \
  etcd_response

fuzz-deps: deps
	$(call install_missing,$(FUZZ_PACKAGES))

$(FUZZ_DIR)/CMakeCache.txt: | fuzz-deps
	cmake -S . -B $(FUZZ_DIR) -DKEEL_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$(FUZZ_OPT) -gline-tables-only"

fuzz-targets: fuzz-deps $(FUZZ_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_DIR) -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-targets
	fuzz/run.sh $(FUZZ_DIR)/bin $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Container images (docs/operations.md, "Deploying: containers and Kubernetes"): keel-node
# from Containerfile and etcd from deploy/etcd/Containerfile, both on a Debian 12 base that
# mmdebstrap makes from Debian's packages once (kept in the container storage and in
# $(BUILD_DIR)/image). buildah's chroot isolation needs no container runtime.
IMAGE ?= localhost/keel-node:latest
ETCD_IMAGE ?= localhost/keel-etcd:latest
IMAGE_BASE ?= localhost/keel-base:bookworm
IMAGE_PACKAGES := buildah mmdebstrap

image-deps:
	$(call install_missing,$(IMAGE_PACKAGES))

image-base: image-deps
	$(SUDO) deploy/image/make-base.sh $(BUILD_DIR)/image $(IMAGE_BASE)

image: image-base
	$(SUDO) buildah bud --isolation chroot --format docker --layers \
	  --build-arg BASE=$(IMAGE_BASE) --build-arg JOBS=$(JOBS) -f Containerfile -t $(IMAGE) .
	$(SUDO) buildah bud --isolation chroot --format docker --layers \
	  --build-arg BASE=$(IMAGE_BASE) -f deploy/etcd/Containerfile -t $(ETCD_IMAGE) deploy/etcd
	@$(SUDO) buildah images $(IMAGE)
	@$(SUDO) buildah images $(ETCD_IMAGE)

# Runs the images as far as this machine allows (chroot, PID namespaces, podman if it may).
image-test:
	$(SUDO) deploy/image/image_test.sh $(IMAGE) $(ETCD_IMAGE)

# The Kubernetes manifests of deploy/kubernetes, validated offline (also part of `make test`).
check-deploy:
	tests/deploy/k8s_manifests_test.sh . $(BUILD_DIR) \
	  $$([ -x $(BUILD_DIR)/bin/keel-node ] && echo $(BUILD_DIR)/bin/keel-node)
