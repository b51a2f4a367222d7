#!/usr/bin/env bash
# Debian's rustc-web (1.96) linked into rustup as "debian-web", plus a wasm32-unknown-unknown
# std built once from Debian's rust-web-src into its sysroot (rustup cannot download targets
# here). Idempotent; rebuilds the std only when Debian updates rustc-web.
set -euo pipefail
[ -e "$HOME/.rustup/toolchains/debian-web" ] || rustup toolchain link debian-web /usr
LIB=/usr/lib/rustlib/wasm32-unknown-unknown/lib
STAMP="$(rustc +debian-web -vV | sed -n 's/^commit-hash: //p')"
if [ "$(cat "$LIB/.built-by" 2>/dev/null)" != "$STAMP" ]; then
  echo "setup: building the wasm32 std for debian-web (~35 s)"
  d=$(mktemp -d -t wasm-sysroot.XXXXXX)
  mkdir -p "$d/src"
  printf '[package]\nname = "wasm-sysroot-dummy"\nversion = "0.0.0"\nedition = "2021"\n[workspace]\n[profile.release]\npanic = "abort"\nopt-level = 3\ncodegen-units = 1\n' > "$d/Cargo.toml"
  echo '#![no_std]' > "$d/src/lib.rs"
  # -Cembed-bitcode=yes so crates built with lto = true can LTO against this std
  (cd "$d" && env -u CARGO_TARGET_DIR RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS=-Cembed-bitcode=yes \
     CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
     cargo +debian-web build -q --release --target wasm32-unknown-unknown -Z build-std=std,panic_abort,test)
  rm -rf "$LIB"; mkdir -p "$LIB"
  cp "$d"/target/wasm32-unknown-unknown/release/deps/*.rlib "$LIB/"
  rm -f "$LIB"/libwasm_sysroot_dummy-*.rlib
  echo "$STAMP" > "$LIB/.built-by"
  rm -rf "$d"
fi
