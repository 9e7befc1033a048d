#!/usr/bin/env bash
# Makes the image's base, localhost/keel-base:bookworm, from Debian's packages alone: a
# minbase Debian 12 root filesystem from mmdebstrap (what debian:bookworm-slim holds: no
# manuals, no docs but the copyright files, no translations), committed by buildah into
# the local container storage. No registry is pulled from. Runs once: an existing image is kept
# (delete it with `buildah rmi localhost/keel-base:bookworm` to make it again).
#
#   deploy/image/make-base.sh CACHE_DIR [IMAGE]
set -euo pipefail
cache=${1:?usage: make-base.sh CACHE_DIR [IMAGE]}
image=${2:-localhost/keel-base:bookworm}
mirror=${KEEL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${KEEL_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

if buildah inspect --type image "$image" >/dev/null 2>&1; then
  echo "make-base: $image exists"
  exit 0
fi
mkdir -p "$cache"
tar="$cache/keel-base-bookworm.tar"
if [ ! -s "$tar" ]; then
  # The dpkg excludes are written into the root filesystem
  # (/etc/dpkg/dpkg.cfg.d/99mmdebstrap), so packages installed on top of it later, in
  # the Containerfile, leave their manuals and docs out too.
  # merged /usr as debootstrap sets it up (directory symlinks), not by the usrmerge
  # package, which would bring perl into the image.
  mmdebstrap --variant=minbase --mode=auto --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --aptopt='APT::Install-Recommends "false"' \
    --aptopt='Acquire::Languages "none"' \
    --customize-hook='rm -f "$1"/etc/hostname "$1"/etc/resolv.conf' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$tar.part" \
    "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main"
  mv "$tar.part" "$tar"
fi
# The root filesystem becomes an image of one layer, with buildah alone.
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$tar" /
buildah config --cmd '["/bin/bash"]' --created-by "mmdebstrap --variant=minbase bookworm" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT
echo "make-base: $image made from $tar ($(du -h "$tar" | cut -f1))"
