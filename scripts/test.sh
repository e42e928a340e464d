#!/usr/bin/env bash
# The whole test suite, on a fresh machine: lints, unit tests, and the integration suite on
# SQLite and again on a throwaway PostgreSQL cluster (installed with apt when missing).
# Usage: scripts/test.sh            (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "cargo is required (install Rust with rustup)" >&2
  exit 1
fi

step "client tools (pip, twine, uv, pypiserver, moto's S3 server) in target/test-tools"
tools="$PWD/target/test-tools"
if [ ! -x "$tools/venv/bin/twine" ] || [ ! -x "$tools/venv/bin/uv" ] || [ ! -x "$tools/venv/bin/pypi-server" ] || [ ! -x "$tools/venv/bin/moto_server" ]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --upgrade pip
  "$tools/venv/bin/pip" install --quiet twine uv pypiserver 'moto[server]'
fi
export GANTRY_TEST_TOOLS="$tools/venv/bin"
# oras-py (an OCI artifact client library) for the referrers test; installed with the venv's
# own interpreter, as schemathesis below.
if ! "$tools/venv/bin/python" -c "import oras" 2>/dev/null; then
  "$tools/venv/bin/python" -m pip install --quiet oras
fi
# cyclonedx-python-lib validates the SBOMs Gantry writes against the CycloneDX JSON schema.
if ! "$tools/venv/bin/python" -c "import cyclonedx.validation.json, jsonschema" 2>/dev/null; then
  "$tools/venv/bin/python" -m pip install --quiet 'cyclonedx-python-lib[json-validation]'
fi

step "verdaccio (npm upstream peer) in target/test-tools/npm"
# verdaccio 6.8.0 runs on Node 20; node-fetch is pinned because newer 2.x releases break it.
if [ ! -x "$tools/npm/node_modules/.bin/verdaccio" ]; then
  mkdir -p "$tools/npm"
  cat > "$tools/npm/package.json" <<'JSON'
{
  "name": "gantry-test-tools",
  "private": true,
  "dependencies": { "verdaccio": "6.8.0" },
  "overrides": { "node-fetch": "2.7.0" }
}
JSON
  (cd "$tools/npm" && npm install --no-audit --no-fund --loglevel=error)
fi
export GANTRY_TEST_VERDACCIO="$tools/npm/node_modules/.bin/verdaccio"

step "OCI clients (skopeo, umoci, podman, buildah) and the CNCF distribution registry from apt"
# The OCI tests build images from local files with umoci and move them with skopeo; without
# these tools they are skipped with a message, so a failed install is not fatal here.
if ! command -v skopeo >/dev/null || ! command -v umoci >/dev/null \
  || ! command -v podman >/dev/null || ! command -v buildah >/dev/null \
  || ! command -v docker-registry >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq skopeo umoci podman buildah docker-registry) \
    || echo "warning: could not install the OCI clients; their tests will be skipped" >&2
fi

step "the go command (Go suites) and nginx (the HTTPS front of their private-repository test) from apt"
# Debian's golang-go is Go 1.19. go sends .netrc credentials over HTTPS only, so the private
# repository test puts nginx, terminating TLS, in front of the test server.
if ! command -v go >/dev/null || ! { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }; then
  apt-get update -qq && apt-get install -y -qq golang-go nginx-light
fi

step "Ruby, gem and Bundler (RubyGems suites) from apt"
# Debian 12's ruby-full is Ruby 3.1 with RubyGems 3.3; ruby-bundler is Bundler 2.3.
if ! command -v gem >/dev/null || ! command -v bundle >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq ruby-full ruby-bundler) \
    || echo "warning: could not install Ruby; its client tests will fail" >&2
fi

step "Maven (mvn and the build plugins Debian packages) from apt"
# The central repository is unreachable from CI: the Maven tests take their build plugins from
# Debian's local repository /usr/share/maven-repo, at the versions these packages ship.
if ! command -v mvn >/dev/null \
  || [ ! -d /usr/share/maven-repo/org/apache/maven/plugins/maven-deploy-plugin ] \
  || [ ! -d /usr/share/maven-repo/org/apache/maven/plugins/maven-surefire-plugin ]; then
  (apt-get update -qq && apt-get install -y -qq maven libmaven-deploy-plugin-java \
    libmaven-dependency-plugin-java libmaven-install-plugin-java libwagon-http-java junit4 \
    libmaven-resources-plugin-java libmaven-compiler-plugin-java libmaven-jar-plugin-java \
    libsurefire-java) \
    || echo "warning: could not install Maven; its client tests will be skipped" >&2
fi

step "composer (Composer suites) from apt"
# Debian's composer is 2.5 on php-cli; without PHP's zip extension it unpacks dists with unzip.
if ! command -v composer >/dev/null || ! command -v unzip >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq composer unzip) \
    || echo "warning: could not install composer; its client tests cannot run" >&2
fi

step "nuget.exe (NuGet suites) under mono, nuget.exe from npm into target/test-tools/npm"
# nuget.exe 5.8 speaks the v3 protocol; mono runs it. The npm package ships the .exe only.
if ! command -v mono >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq mono-complete) \
    || echo "warning: could not install mono; the NuGet client tests will fail" >&2
fi
if [ ! -f "$tools/npm/node_modules/nuget-exe/nuget-5.8.0.exe" ]; then
  mkdir -p "$tools/npm"
  (cd "$tools/npm" && npm install --no-save --no-audit --no-fund --loglevel=error nuget-exe@5.8.0)
fi
export GANTRY_TEST_NUGET="$tools/npm/node_modules/nuget-exe/nuget-5.8.0.exe"

step "RPM tools (rpmbuild, createrepo_c, dnf) from apt"
# The RPM suite builds its packages with rpmbuild, compares Gantry's primary with
# createrepo_c's, and installs with dnf into scratch roots (its upstream test serves a
# createrepo_c mirror with the nginx installed above).
if ! command -v rpmbuild >/dev/null || ! command -v createrepo_c >/dev/null \
  || ! command -v dnf >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq rpm dnf createrepo-c) \
    || echo "warning: could not install the RPM tools; their client tests will be skipped" >&2
fi

step "reprepro (the Debian upstream test's mirror) from apt"
# apt-get and dpkg-deb come with Debian; the Debian upstream test writes its mirror with
# reprepro and serves it with the nginx installed above.
if ! command -v reprepro >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq reprepro) \
    || echo "warning: could not install reprepro; the Debian upstream test will be skipped" >&2
fi

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit and integration tests on SQLite"
cargo test --workspace --locked

step "schemathesis against the REST API (every operation, with and without a token)"
# Installed with the venv's own interpreter, so it lands in this venv even when the venv was
# copied from another checkout.
if [ ! -x "$tools/venv/bin/st" ]; then
  "$tools/venv/bin/python" -m pip install --quiet schemathesis
fi
scripts/schemathesis.sh 20

step "web interface in Chromium (playwright-core, axe-core)"
scripts/browser-test.sh

step "integration tests on PostgreSQL"
pg_dir=$(mktemp -d /tmp/gantry-pg.XXXXXX)
moto_pid=""
cleanup() {
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; fi
  scripts/pg.sh stop "$pg_dir"
  rm -rf "$pg_dir"
}
trap cleanup EXIT
pg_url=$(scripts/pg.sh start "$pg_dir")
echo "PostgreSQL at $pg_url"
GANTRY_TEST_DATABASE_URL="$pg_url" cargo test --workspace --locked --test integration

step "integration tests on PostgreSQL with blobs in S3 (moto's server)"
# Every test server takes a prefix of its own in one bucket; tests that look at blob files
# on disk say so and return early (common::blobs_in_s3).
s3_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$tools/venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
moto_pid=$!
s3_url="http://127.0.0.1:$s3_port"
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "$s3_url" && break
  sleep 0.1
done
curl -sf -X PUT -o /dev/null "$s3_url/gantry-suite"
GANTRY_TEST_DATABASE_URL="$pg_url" GANTRY_TEST_S3_ENDPOINT="$s3_url" GANTRY_TEST_S3_BUCKET=gantry-suite \
  cargo test --workspace --locked --test integration
