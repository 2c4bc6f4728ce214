#!/usr/bin/env bash
# Release build of the server binary and the wasm client, without
# cargo-leptos: the same steps `cargo leptos build --release` runs for this
# crate (its settings are [package.metadata.leptos] in Cargo.toml), done with
# cargo, wasm-bindgen and wasm-opt directly. Installing cargo-leptos costs a
# fresh machine 13 to 25 minutes of compiling, and only `make dev` (watch and
# live reload) needs it.
#
# Steps, each timed:
#   1. client: cargo build --lib for wasm32 with `hydrate`, profile wasm-release
#   2. wasm-bindgen --target web, then rename pairdesk_bg.wasm to pairdesk.wasm
#      as cargo-leptos does (leptos' HydrationScripts expects that name when
#      LEPTOS_OUTPUT_NAME was set at compile time)
#   3. wasm-opt -Oz (npm's binaryen; Debian's breaks hydration)
#   4. site: style/main.css as pkg/pairdesk.css, public/ copied into the site
#   5. server: cargo build --release --bin pairdesk with `ssr`
# The site is assembled in a temporary folder and swapped in at the end, so
# a failed build never leaves a half-written target/site behind.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# What cargo-leptos exports to both builds (leptos reads LEPTOS_OUTPUT_NAME
# at compile time; the rest is read at run time and overridden by pairdesk).
export LEPTOS_OUTPUT_NAME=pairdesk LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=. LEPTOS_BIN_DIR=. \
  LEPTOS_JS_MINIFY=true LEPTOS_HASH_FILES=false

t0=$SECONDS
step() {
  local name=$1 t=$SECONDS
  shift
  "$@"
  echo "[build] $name: $((SECONDS - t)) s"
}

site=target/site
pkg=$site/pkg
tmp=target/site-pkg.tmp
rm -rf "$tmp"
mkdir -p "$tmp" "$site"

step "client (cargo, wasm32, wasm-release)" \
  cargo build --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --profile wasm-release
step "wasm-bindgen" \
  wasm-bindgen --target web --out-name pairdesk --out-dir "$tmp" \
  target/wasm32-unknown-unknown/wasm-release/pairdesk.wasm
mv "$tmp/pairdesk_bg.wasm" "$tmp/pairdesk.wasm"
step "wasm-opt -Oz" \
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$tmp/pairdesk.wasm" -o "$tmp/pairdesk.wasm"
cp style/main.css "$tmp/pairdesk.css"
cp -R public/. "$site/"
rm -rf "$pkg"
mv "$tmp" "$pkg"
step "server (cargo, release)" \
  cargo build --release --bin pairdesk --no-default-features --features ssr
echo "[build] done in $((SECONDS - t0)) s: target/release/pairdesk, $pkg ($(du -k "$pkg/pairdesk.wasm" | cut -f1) KiB wasm)"
