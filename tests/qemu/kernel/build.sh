#!/bin/sh
# Build (or find in the cache) a test kernel and print the path of its bzImage.
#
# Usage: build.sh [NAME]     NAME is a kernel recipe under tests/qemu/kernel/,
#                            default "6.12": SERIES, SUITE, optionally VERSION
#                            (the package version pinned) and FRAGMENTS.
#
# The result is cached outside the repository under
# $KHIB_CACHE/kernels/<name>-<hash>/, keyed by the source package and the
# merged options, so that no CI run builds the same kernel twice; the object
# tree of the last build of each source package is kept beside it
# (objtree-<hash>/), from which the next variant builds incrementally.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=${1:-6.12}
recipe="$here/$name.recipe"
[ -f "$recipe" ] || { echo "build.sh: no recipe $recipe" >&2; exit 1; }
VERSION=
# shellcheck disable=SC1090
. "$recipe"     # sets SERIES, SUITE, FRAGMENTS and maybe VERSION
cache=${KHIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/khib}

tarball=$("$here/fetch-source.sh" "$SERIES" "$SUITE" ${VERSION:+"$VERSION"})
package=$(cat "$(dirname "$tarball")/package")
# The fragments merged: a later fragment's setting of an option replaces an
# earlier one's.
merged=$(for f in $FRAGMENTS; do cat "$here/$f"; done | awk '
    /^CONFIG_[A-Za-z0-9_]+=/ { name = $0; sub(/=.*/, "", name) }
    /^# CONFIG_[A-Za-z0-9_]+ is not set/ { name = $2 }
    /^(CONFIG_|# CONFIG_.* is not set)/ { if (!(name in line)) order[n++] = name; line[name] = $0; next }
    END { for (i = 0; i < n; i++) print line[order[i]] }')
# The kernel is what the source and the merged options make.
key=$(printf '%s\n%s\n' "$package" "$merged" | sha256sum | cut -c1-16)
out="$cache/kernels/$name-$key"
if [ -f "$out/bzImage" ]; then
    echo "$out/bzImage"
    exit 0
fi
# One build per source package at a time: a second caller (a scenario that
# needs the kernel .ci/run is still building in the background, or two test
# runs at once) waits here for the first and then finds its bzImage.  The
# lock is the source package's, as the object tree below is.
mkdir -p "$cache/kernels"
exec 9> "$cache/kernels/.lock-$(printf '%s' "$package" | sha256sum | cut -c1-16)"
if ! flock -n 9; then
    echo "build.sh: kernel $name: waiting for another build from $package" >&2
    flock 9
fi
if [ -f "$out/bzImage" ]; then
    echo "$out/bzImage"
    exit 0
fi

work="$cache/kernels/build-$name-$key"
# The object tree of the last build from the same source package: another
# variant (another recipe's options) builds incrementally from it, and make
# recompiles only what the changed options touch (kbuild's fixdep tracks
# every object's CONFIG_ dependencies).  Moved in, and back when done, so
# that an interrupted build leaves no half-built tree behind.
objtree="$cache/kernels/objtree-$(printf '%s' "$package" | sha256sum | cut -c1-16)"
rm -rf "$work"
start=$(date +%s)
if [ -d "$objtree" ]; then
    echo "build.sh: building kernel $name from $package (cache key $key), incrementally" >&2
    mv "$objtree" "$work"
else
    echo "build.sh: building kernel $name from $package (cache key $key)" >&2
    mkdir -p "$work"
    tar -xf "$tarball" -C "$work" --strip-components=1
fi
printf '%s\n' "$merged" > "$work/khib.config"
make -C "$work" -s KCONFIG_ALLCONFIG="$work/khib.config" allnoconfig >&2
# Every option the fragments ask for must have survived Kconfig's dependency
# resolution; a silently dropped option would give a kernel that cannot jump.
missing=0
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=*) grep -qxF "$line" "$work/.config" || { echo "build.sh: Kconfig dropped $line" >&2; missing=1; } ;;
        "# CONFIG_"*" is not set") grep -qxF "$line" "$work/.config" || { echo "build.sh: Kconfig kept ${line#\# }" >&2; missing=1; } ;;
    esac
done < "$work/khib.config"
[ "$missing" = 0 ] || exit 1
make -C "$work" -s -j"$(nproc)" bzImage >&2
mkdir -p "$out.tmp"
cp "$work/arch/x86/boot/bzImage" "$work/.config" "$out.tmp/"
make -C "$work" -s kernelrelease > "$out.tmp/release"
rm -rf "$out"
mv "$out.tmp" "$out"
rm -rf "$objtree"
mv "$work" "$objtree"
echo "build.sh: kernel $name built in $(( $(date +%s) - start )) s" >&2
echo "$out/bzImage"
