#!/usr/bin/env bash
# Install everything pairdesk's build and tests need. Idempotent: every step
# checks first and is skipped when its tool is already there at the right
# version. Facts behind each step: ../shared/TOOLCHAIN.md.
#
#   scripts/install.sh        what `make run` and `make test` need
#   scripts/install.sh --dev  also cargo-leptos, for `make dev` (watch mode)
#
# Each step prints how long it took. The npm and PyPI downloads run in the
# background while cargo compiles wasm-bindgen-cli (they wait on the network,
# cargo on the two cores). Measured on a fresh machine: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
dev=false
[ "${1:-}" = "--dev" ] && dev=true

say() { echo "[install] $*"; }
t_all=$SECONDS
since() { echo "$((SECONDS - $1)) s"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# 1. Debian packages: OpenBLAS for ndarray-linalg (server), OpenSSL for TLS to
#    Binance, Chromium for the browser tests.
missing=""
for p in pkg-config libssl-dev libopenblas-dev chromium wrk; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
t=$SECONDS
if [ -n "$missing" ]; then
  say "apt-get install$missing"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
else
  say "apt packages present"
fi
say "apt: $(since $t)"

# 2. npm packages and schemathesis, in the background (see the top).
npm_step() {
  # npm packages: Playwright (driving Debian's Chromium; never downloads a
  #    browser) and binaryen 132 for wasm-opt (Debian's 108 breaks hydration).
  if [ -x end2end/node_modules/.bin/wasm-opt ] && [ -x end2end/node_modules/.bin/playwright ] \
     && [ end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]; then
    say "npm packages present"
  else
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}
pip_step() {
  # schemathesis (PyPI) in a venv under ./tools, for `make api-fuzz`;
  #    pinned so the property-based API check is reproducible.
  st_version=4.32.5
  if tools/schemathesis/bin/schemathesis --version 2>/dev/null | grep -q " $st_version\$"; then
    say "schemathesis $st_version present"
  else
    rm -rf tools/schemathesis
    if ! python3 -m venv tools/schemathesis; then
      # Debian's python3 needs python3-venv for ensurepip.
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
      rm -rf tools/schemathesis
      python3 -m venv tools/schemathesis
    fi
    tools/schemathesis/bin/pip install -q "schemathesis==$st_version"
  fi
}
t=$SECONDS
logs=$(mktemp -d)
( npm_step > "$logs/npm" 2>&1; echo "npm: $(since $t)" >> "$logs/npm" ) &
npm_pid=$!
( pip_step > "$logs/pip" 2>&1; echo "schemathesis: $(since $t)" >> "$logs/pip" ) &
pip_pid=$!

# 3. The wasm target for the client.
t=$SECONDS
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "wasm32-unknown-unknown present"
else
  rustup target add wasm32-unknown-unknown
fi
say "wasm target: $(since $t)"

# 4. cargo-leptos 0.3.10, for `make dev` only (`make build` runs
#    scripts/build.sh); later versions need a newer rustc; no_downloads
#    because it would otherwise fetch tools from the internet.
if $dev; then
  t=$SECONDS
  if cargo leptos --version 2>/dev/null | grep -q ' 0\.3\.10'; then
    say "cargo-leptos 0.3.10 present"
  else
    cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
  fi
  say "cargo-leptos: $(since $t)"
fi

# 5. wasm-bindgen-cli: exactly the wasm-bindgen version in Cargo.lock.
#    Installed without --locked: its own lock names a yanked crate version.
t=$SECONDS
wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if wasm-bindgen --version 2>/dev/null | grep -q " $wb\$"; then
  say "wasm-bindgen-cli $wb present"
else
  cargo install wasm-bindgen-cli --version "$wb" --force
fi
say "wasm-bindgen-cli: $(since $t)"

status=0
wait $npm_pid || status=1
sed 's/^/[install] /' "$logs/npm"
wait $pip_pid || status=1
sed 's/^/[install] /' "$logs/pip"
rm -rf "$logs"
[ $status -eq 0 ] || { say "npm or schemathesis install failed (log above)"; exit 1; }
say "done in $(since $t_all)"
