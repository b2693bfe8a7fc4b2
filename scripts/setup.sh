#!/usr/bin/env bash
# Set up screenpilot on a fresh Debian/Ubuntu machine: system packages, a virtual
# environment in .venv, and the Python packages pinned in scripts/constraints.txt.
#
#   scripts/setup.sh          desktop + OCR: enough for the demo task
#   scripts/setup.sh --test   everything the test suite needs (torch + torchvision, transformers, adb, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
# The runtime needs Xvfb, openbox and dbus (virtual displays: window manager, session bus);
# typing and clicks go through XTest in Python. zenity and xdotool: `agent dataset make`'s GTK
# scenes (and tests that move the pointer as a person would); python3-tk: the demo form.
apt_pkgs=(xvfb openbox dbus xdotool zenity python3-venv python3-tk fonts-dejavu-core)
if [ "$mode" = "--test" ]; then
  # scrot: bench/loop_overhead.py's cookbook baseline (pyautogui.screenshot on X11)
  # galculator, mousepad: real GTK apps for the window-manager tests (tests/test_real_apps.py),
  # the OCR grounder's (tests/test_ocr_apps.py), the accessibility-first locate tests and
  # bench/a11y_locate.py
  apt_pkgs+=(adb chromium fonts-noto-cjk dbus-x11 libglib2.0-bin at-spi2-core scrot
             galculator mousepad)
fi

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing system packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check -c scripts/constraints.txt)
if [ "$mode" = "--test" ]; then
  # What `pip install 'screenpilot[all]'` gives a Linux user: torch with a torchvision built
  # for it (the default, torchvision image-processor path). Both are pinned in constraints.txt
  # and installed first, as a pair, so nothing later pulls another torch build. The PIL path
  # (torch without torchvision) is tested too: tests/test_models_image_backends.py.
  "${pip[@]}" torch torchvision
  "${pip[@]}" -e '.[all,test,bench,ray]'
  .venv/bin/python -c 'import torchvision' || { echo "setup: torchvision does not import" >&2; exit 1; }
else
  "${pip[@]}" -e '.[desktop,ocr]'
fi
echo "setup: ready (.venv)" >&2
