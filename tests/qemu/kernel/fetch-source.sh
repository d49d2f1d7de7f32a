#!/bin/sh
# Print the path of Debian's linux-source-<series> tarball, downloading the
# package into the cache first if needed.
#
# Usage: fetch-source.sh SERIES SUITE [VERSION]
#        e.g. fetch-source.sh 6.12 trixie, fetch-source.sh 7.2 sid 7.2.13-1
#
# The machine's apt may list only an older suite, so the package is looked up
# through a private sources list and state directory under the cache; the
# system's apt configuration is never changed.  The archive address is taken
# from the system's own apt sources.
#
# With VERSION (a recipe's pin) exactly that package version is downloaded
# and cached apart from other versions; when the suite no longer has it the
# script fails and names the versions it has: move the pin (docs/kernels.md).
# Without VERSION the suite's current version is taken once and then kept.
set -eu
series=${1:?usage: fetch-source.sh SERIES SUITE [VERSION]}
suite=${2:?usage: fetch-source.sh SERIES SUITE [VERSION]}
version=${3:-}
cache=${KHIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/khib}
dir="$cache/apt-$suite"
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs"

# shellcheck source-path=SCRIPTDIR source=../lib/mirror.sh
. "$(dirname "$0")/../lib/mirror.sh"

if [ -n "$version" ]; then
    # The file name apt gives the .deb (an epoch's colon is written %3a).
    debname="linux-source-${series}_$(printf '%s' "$version" | sed 's/:/%3a/')_all.deb"
    src="$dir/src/linux-source-${series}_$version"
else
    src="$dir/src/linux-source-$series"
fi
tarball="$src/linux-source-$series.tar.xz"
if [ ! -f "$tarball" ] || [ ! -f "$src/package" ]; then
    uri=$(mirror_uri) || { echo "fetch-source: no Debian archive found in /etc/apt sources" >&2; exit 1; }
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" > "$dir/sources.list"
    set -- -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Debug::NoLocking=1 \
        -o APT::Sandbox::User=root
    apt-get "$@" -q update >&2
    if [ -n "$version" ]; then
        rm -f "$dir/debs/$debname"
        if ! (cd "$dir/debs" && apt-get "$@" -q download "linux-source-$series=$version" >&2); then
            has=$(apt-cache "$@" madison "linux-source-$series" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
                paste -sd ' ' -)
            echo "fetch-source: $suite no longer has linux-source-$series=$version (it has: ${has:-none})." >&2
            echo "fetch-source: move the pin VERSION= in the kernel's recipe, tests/qemu/kernel/*.recipe (docs/kernels.md)." >&2
            exit 1
        fi
        deb="$dir/debs/$debname"
        [ -f "$deb" ] || { echo "fetch-source: apt-get download left no $debname" >&2; exit 1; }
    else
        (cd "$dir/debs" && apt-get "$@" -q download "linux-source-$series" >&2)
        deb=$(find "$dir/debs" -name "linux-source-${series}_*.deb" | sort -V | tail -n 1)
    fi
    rm -rf "$dir/src.tmp"
    mkdir -p "$dir/src.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/src.tmp" --strip-components=3 \
        "./usr/src/linux-source-$series.tar.xz"
    mkdir -p "$src"
    mv "$dir/src.tmp/linux-source-$series.tar.xz" "$src/"
    basename "$deb" > "$src/package"
    rm -rf "$dir/src.tmp"
fi
echo "$tarball"
