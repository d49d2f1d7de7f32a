#!/bin/sh
# Print the path of Debian's linux-source-<series> tarball, downloading the
# package into the cache first if needed.
#
# Usage: fetch-source.sh SERIES SUITE      e.g. fetch-source.sh 6.12 trixie
#
# The machine's apt may list only an older suite, so the package is looked up
# through a private sources list and state directory under the cache; the
# system's apt configuration is never changed.  The archive address is taken
# from the system's own apt sources.
set -eu
series=${1:?usage: fetch-source.sh SERIES SUITE}
suite=${2:?usage: fetch-source.sh SERIES SUITE}
cache=${KHIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/khib}
dir="$cache/apt-$suite"
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs"

mirror_uri() {
    # deb822 sources first, then the one-line format.
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { print $i; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    return 1
}

tarball=$(ls "$dir"/src/linux-source-"$series"/linux-source-"$series".tar.xz 2>/dev/null || true)
if [ -z "$tarball" ]; then
    uri=$(mirror_uri) || { echo "fetch-source: no Debian archive found in /etc/apt sources" >&2; exit 1; }
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" > "$dir/sources.list"
    set -- -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Debug::NoLocking=1 \
        -o APT::Sandbox::User=root
    apt-get "$@" -q update >&2
    (cd "$dir/debs" && apt-get "$@" -q download "linux-source-$series" >&2)
    deb=$(find "$dir/debs" -name "linux-source-${series}_*.deb" | sort -V | tail -n 1)
    rm -rf "$dir/src.tmp"
    mkdir -p "$dir/src.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/src.tmp" --strip-components=3 \
        "./usr/src/linux-source-$series.tar.xz"
    mkdir -p "$dir/src/linux-source-$series"
    mv "$dir/src.tmp/linux-source-$series.tar.xz" "$dir/src/linux-source-$series/"
    basename "$deb" > "$dir/src/linux-source-$series/package"
    rm -rf "$dir/src.tmp"
    tarball="$dir/src/linux-source-$series/linux-source-$series.tar.xz"
fi
echo "$tarball"
