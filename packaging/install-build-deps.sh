#!/usr/bin/env bash
# Installs what building and testing Genos needs, when it is missing.
# Debian/Ubuntu: apt packages (as root, or through sudo). macOS: only the
# Xcode command line tools are needed. Anything else: print what to install.
set -euo pipefail

# Build: Fyne/GLFW and audio headers. Test: Xvfb and friends for real-window
# screenshots, dbus for the tray under a session bus.
apt_pkgs=(gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev
  libxxf86vm-dev libasound2-dev xvfb xauth imagemagick x11-utils dbus)

case "$(uname -s)" in
Darwin)
  if ! xcode-select -p >/dev/null 2>&1; then
    echo "Install the Xcode command line tools first: xcode-select --install" >&2
    exit 1
  fi
  exit 0
  ;;
Linux) ;;
*)
  echo "Unsupported OS $(uname -s): install a C compiler and OpenGL/X11 headers by hand." >&2
  exit 0
  ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "Not a Debian-based system: install the equivalents of: ${apt_pkgs[*]}" >&2
  exit 0
fi
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "Missing packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
echo "Installing build packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
