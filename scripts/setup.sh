#!/usr/bin/env bash
# Installs what the project needs on Debian 12 (bookworm): Chromium for the
# browser tests, Mesa's Vulkan drivers (lavapipe, a software GPU, for Node when
# there is no GPU) from bookworm-backports, PyTorch (CPU; the tests check the
# PyTorch export against it), h5py (the tests read the .keras files we write
# with it; tests/fixtures/keras/make.py writes the Keras fixtures with it), and
# the npm packages.
set -euo pipefail

if command -v apt-get >/dev/null; then
  sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  mesa_suite=()
  if [ "$codename" = bookworm ]; then
    # Bookworm's own lavapipe is too old for Dawn; the backported Mesa works.
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo 'deb http://deb.debian.org/debian bookworm-backports main' | $sudo tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    fi
    mesa_suite=(-t bookworm-backports)
  fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium python3-torch python3-h5py
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${mesa_suite[@]}" mesa-vulkan-drivers
fi

npm ci
