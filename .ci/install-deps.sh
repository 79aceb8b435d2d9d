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
if [ ! -f /usr/lib/raspi-firmware/start4.elf ] && command -v apt-get >/dev/null 2>&1; then
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if ! apt-cache policy raspi-firmware 2>/dev/null | grep -q Candidate:.*[0-9]; then
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename non-free-firmware" |
            $SUDO tee /etc/apt/sources.list.d/ilusion-non-free-firmware.list >/dev/null
        $SUDO apt-get update -qq
    fi
    $SUDO apt-get install -y -qq raspi-firmware >/dev/null 2>&1 || $SUDO apt-get install -y -qq raspi-firmware
fi

if ! rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-none; then
    rustup target add aarch64-unknown-none
fi
for c in llvm-tools rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" || true
done
command -v just >/dev/null 2>&1 || pip install -q rust-just
have_qemu || { echo "error: qemu-system-aarch64 with raspi4b still missing" >&2; exit 1; }
echo "setup: $(qemu-system-aarch64 --version | head -1); just $(just --version)"
