#!/usr/bin/env bash
# Installs everything ilusion needs on Debian bookworm (or newer), as root,
# non-interactively. Idempotent: what is already there is skipped.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

have_qemu() {
    command -v qemu-system-aarch64 >/dev/null 2>&1 &&
        qemu-system-aarch64 -machine help 2>/dev/null | grep -q '^raspi4b'
}

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=()
have_qemu || need_apt+=(qemu)
command -v mcopy >/dev/null 2>&1 || need_apt+=(mtools)
command -v mkfs.fat >/dev/null 2>&1 || need_apt+=(dosfstools)
command -v llvm-objcopy >/dev/null 2>&1 || need_apt+=(llvm)
command -v gdb-multiarch >/dev/null 2>&1 || need_apt+=(gdb-multiarch)
command -v qemu-img >/dev/null 2>&1 || need_apt+=(qemu-utils)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3) # tools/bookcheck

if [ ${#need_apt[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: missing ${need_apt[*]} and this is not a Debian-like system." >&2
        echo "Install QEMU 9 or newer (qemu-system-aarch64 with the raspi4b machine)," >&2
        echo "mtools, dosfstools, llvm and gdb-multiarch with your package manager," >&2
        echo "then: rustup target add aarch64-unknown-none && pip install rust-just" >&2
        exit 1
    fi
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [ "$codename" = bookworm ] && [ ! -f /etc/apt/sources.list.d/ilusion-backports.list ]; then
        echo "deb http://deb.debian.org/debian bookworm-backports main non-free-firmware" |
            $SUDO tee /etc/apt/sources.list.d/ilusion-backports.list >/dev/null
    fi
    $SUDO apt-get update -qq
    pkgs=(mtools dosfstools llvm gdb-multiarch qemu-utils python3)
    $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
    if ! have_qemu; then
        if [ "$codename" = bookworm ]; then
            $SUDO apt-get install -y -qq -t bookworm-backports qemu-system-arm >/dev/null
        else
            $SUDO apt-get install -y -qq qemu-system-arm >/dev/null
        fi
    fi
fi

# Raspberry Pi firmware for SD-card images (Debian's raspi-firmware, non-free-firmware).
# Only `just sdcard` needs it: if it cannot be installed, say so and go on.
# ILUSION_OS_RELEASE and ILUSION_APT_SOURCES (the tests) stand in for
# /etc/os-release and /etc/apt/sources.list.d.
fw_dir=${RPI_FIRMWARE_DIR:-/usr/lib/raspi-firmware}
os_release=${ILUSION_OS_RELEASE:-/etc/os-release}
apt_sources=${ILUSION_APT_SOURCES:-/etc/apt/sources.list.d}
if [ ! -f "$fw_dir/start4.elf" ] && command -v apt-get >/dev/null 2>&1; then
    os_id=$(. "$os_release" && echo "${ID:-}")
    codename=$(. "$os_release" && echo "${VERSION_CODENAME:-}")
    if ! apt-cache policy raspi-firmware 2>/dev/null | grep -q 'Candidate:.*[0-9]'; then
        # Debian's own archive, for Debian only: on another system (Ubuntu,
        # Mint...) its codename names no Debian release and apt would break.
        if [ "$os_id" = debian ] && [ -n "$codename" ]; then
            list=$apt_sources/ilusion-non-free-firmware.list
            echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename non-free-firmware" |
                $SUDO tee "$list" >/dev/null
            if ! $SUDO apt-get update -qq; then
                # A source apt cannot use would make every later apt-get update fail.
                $SUDO rm -f "$list"
                $SUDO apt-get update -qq || true
            fi
        fi
    fi
    if ! $SUDO apt-get install -y -qq raspi-firmware >/dev/null 2>&1; then
        echo "warning: could not install the Raspberry Pi firmware (Debian's raspi-firmware, component" >&2
        echo "  non-free-firmware); only 'just sdcard' needs it: install it, or set RPI_FIRMWARE_DIR to the" >&2
        echo "  boot/ folder of https://github.com/raspberrypi/firmware." >&2
    fi
fi

if ! rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-none; then
    rustup target add aarch64-unknown-none
fi
for c in llvm-tools rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" || true
done
command -v just >/dev/null 2>&1 || pip install -q rust-just
have_qemu || { echo "error: qemu-system-aarch64 with raspi4b still missing" >&2; exit 1; }
# `just --version` names itself: "just 1.59.0".
echo "setup: $(qemu-system-aarch64 --version | head -1); $(just --version)"
