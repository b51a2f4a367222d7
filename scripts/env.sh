# Sourced by the scripts: one shared cargo target dir outside the clone (a clean burn build is
# ~9 min per target on 2 cores, so repeated runs on the same machine reuse it).
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rankmamba/target}"
# wgpu on Mesa lavapipe (Vulkan on the CPU) where no GPU driver is configured
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && [ -f /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ]; then
  export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d -t rankmamba-xdg.XXXXXX)
  export XDG_RUNTIME_DIR
fi
