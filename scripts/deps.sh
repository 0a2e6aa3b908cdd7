#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install Debian packages if they are missing (idempotent: nothing is
# downloaded when everything is already there). Uses sudo when not root.
#
# Usage: deps.sh pkg...            (packages from the default suites)
#        VDEV_APT_SUITE=bookworm-backports deps.sh pkg...
set -euo pipefail

missing=()
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "deps: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	fi
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists at most once per run of the caller.
if [ -z "${VDEV_APT_UPDATED:-}" ]; then
	"${sudo[@]}" apt-get update -q >/dev/null
	export VDEV_APT_UPDATED=1
fi
target=()
if [ -n "${VDEV_APT_SUITE:-}" ]; then
	target=(-t "$VDEV_APT_SUITE")
fi
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${target[@]}" "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
