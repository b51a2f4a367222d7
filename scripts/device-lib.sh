# Sourced by the GPU-machine scripts (gpu.sh, bench-train-gpu.sh, train-default-gpu.sh).
#   pack_binaries BIN...   here: copy release binaries (or examples/NAME) into .device/, xz them
#   device_setup           there: install the carried Vulkan loader (.gl/*.deb), point wgpu at the
#                          NVIDIA driver, unpack .device/*.xz binaries into /tmp/bin
pack_binaries() {
  mkdir -p .device
  for b in "$@"; do cp "$CARGO_TARGET_DIR/release/$b" ".device/$(basename "$b")"; done
  for b in "$@"; do xz -T2 -6 -f ".device/$(basename "$b")"; done
}

device_setup() {
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=/tmp
  mkdir -p /tmp/bin
  for f in .device/*.xz; do
    [ "${f%.tar.xz}" = "$f" ] || continue
    xz -dc "$f" > "/tmp/bin/$(basename "$f" .xz)" && chmod +x "/tmp/bin/$(basename "$f" .xz)"
  done
}
