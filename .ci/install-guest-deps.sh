#!/usr/bin/env bash
# What the lab's real-kernel nodes need (lab/guest/): QEMU with the emulated Intel 82576
# (`-device igb`, an SR-IOV NIC; QEMU 8.0 or newer), qemu-img for the per-guest overlays, and
# mmdebstrap + e2fsprogs to build the guest image from Debian packages.
#
# Debian bookworm's own QEMU (7.2) has no igb: there QEMU comes from bookworm-backports, added
# as one more apt source on the same mirror as the machine's bookworm source. Backports are
# NotAutomatic, so nothing else on the machine moves to them; only the packages named with
# `-t bookworm-backports` below do.
set -euo pipefail
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
who=install-guest-deps
sudo_cmd=()
((EUID == 0)) || sudo_cmd=(sudo)

qemu_has_igb() {
  command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null &&
    qemu-system-x86_64 -nodefaults -machine none -device help 2>/dev/null | grep -q '^name "igb"'
}

# The URI of the machine's Debian source for <suite> (deb822 .sources or one-line .list).
debian_uri() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    # One paragraph per source: print its URI when its Suites has <suite> and Components main.
    awk -v suite="$suite" '
      function flush() { if (uri != "" && has_suite && has_main) { print uri; found = 1; exit } uri = ""; has_suite = 0; has_main = 0 }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
      /^Components:/ { for (i = 2; i <= NF; i++) if ($i == "main") has_main = 1 }
      END { if (!found) flush() }
    ' "$f"
  done | head -n1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    awk -v suite="$suite" '$1 == "deb" && $3 == suite { for (i = 4; i <= NF; i++) if ($i == "main") { print $2; exit } }' "$f"
  done | head -n1
}

# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
apt_install "$who" mmdebstrap e2fsprogs openssh-client
if qemu_has_igb; then
  echo "$who: QEMU with igb present ($(qemu-system-x86_64 --version | head -n1))"
  exit 0
fi

target=()
if [[ $codename == bookworm ]]; then
  list=/etc/apt/sources.list.d/bookworm-backports.sources
  if [[ ! -e $list ]]; then
    uri=$(debian_uri bookworm | head -n1)
    [[ -n $uri ]] || {
      echo "$who: no apt source for Debian bookworm found, so bookworm-backports cannot be added; add it by hand" >&2
      exit 1
    }
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" |
      "${sudo_cmd[@]}" tee "$list" >/dev/null
    echo "$who: added bookworm-backports ($uri) to the apt sources"
  fi
  target=(-t bookworm-backports)
fi
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${target[@]}" qemu-system-x86 qemu-utils
qemu_has_igb || {
  echo "$who: the installed QEMU has no igb device ($(qemu-system-x86_64 --version | head -n1)); QEMU 8.0 or newer is needed" >&2
  exit 1
}
echo "$who: installed $(qemu-system-x86_64 --version | head -n1)"
