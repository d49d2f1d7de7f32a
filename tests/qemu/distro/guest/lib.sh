# shellcheck shell=sh disable=SC2034
# Shared by the guest driver's two parts (run.sh, hibernate.sh): where things
# are, the result lines on the console, small helpers.
C=/var/lib/khibtest/ctl         # the control disk's files
S=/var/lib/khibtest             # state that the host reads afterwards
# The control disk's settings for this guest (distro.sh): CYCLES, REFUSE,
# FILE (the image in that file, not on /dev/vda3), HYBRID (cycle 1 woken
# suspend-to-both first, cycle 2 a suspend-to-both the host cuts).
# shellcheck source=/dev/null
[ ! -f "$C/settings" ] || . "$C/settings"
CYCLES=${CYCLES:-2}
FILE_SIZE=1G
TARGET=${FILE:-/dev/vda3}
# image_place: IMG_DEV and IMG_OFF, where khib-restore finds the image: the
# partition, or the device and first block khib setup-target recorded.
image_place() {
    IMG_DEV=/dev/vda3 IMG_OFF=
    [ -z "${FILE:-}" ] || [ ! -f /etc/khib.conf ] || {
        IMG_DEV=$(sed -n 's/^target-device=//p' /etc/khib.conf | tail -n 1)
        IMG_OFF=$(sed -n 's/^target-offset=//p' /etc/khib.conf | tail -n 1)
    }
}
image_place
# img OPTION...: khib-restore on the image (--info, --resumable, ...).
img() { /usr/lib/khib/khib-restore --image "$IMG_DEV" ${IMG_OFF:+"--offset=$IMG_OFF"} "$@"; }
img_state() { img --info 2> /dev/null | sed -n 's/^state: *//p'; }
export DEBIAN_FRONTEND=noninteractive
pass() { echo "KHIBTEST: PASS $*"; }
fail() { echo "KHIBTEST: FAIL $*"; }
info() { echo "KHIBTEST: INFO $*"; }
check() {   # check WHAT COMMAND...
    what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
quiet() { "$@" > /dev/null 2>&1; }
stop() {    # stop: the host reads the rest from the disk
    info "done"
    sync
    systemctl poweroff
    exit 0
}

# logind METHOD: logind's answer to CanHibernate, CanHybridSleep, ...
logind() {
    busctl call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.login1.Manager "$1" |
        sed -n 's/^s "\(.*\)"$/\1/p'
}

# What purge must give back: every path outside logs, caches and the
# bookkeeping of apt, dpkg and systemd.
snapshot() {
    find / -xdev \( -path /proc -o -path /tmp -o -path /var/tmp -o -path /var/cache -o -path /var/log -o -path /var/backups \
        -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/lib/systemd -o -path "$S" \) -prune -o -print |
        LC_ALL=C sort
}
packages() { dpkg-query -W -f='${Package}\n' | LC_ALL=C sort; }
# The memory map R compares with the image's (khib-restore --memmap: the
# text its digest covers, then "digest HEX"), as KHIBTEST: INFO memmap lines.
memmap_info() {
    /usr/lib/khib/khib-restore --memmap | sed 's/^/KHIBTEST: INFO memmap /'
}
