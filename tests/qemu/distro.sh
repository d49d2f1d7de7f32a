#!/bin/sh
# khib on real Debian systems: a debootstrapped Debian 12 (bookworm) and
# Debian 13 (trixie) guest, each booting from its disk through GRUB into
# systemd (tests/qemu/distro/image.sh builds and caches the disks); bookworm
# under SeaBIOS, trixie under UEFI (OVMF, GRUB on an EFI system partition
# mounted at /boot/efi: tests/qemu/distro/firmware.sh), each guest's UEFI
# variables kept across its boots.  In each:
#   boot 1 (GRUB's normal entry): install khib's .deb with apt, CanHibernate
#     no, configure the target (khib.conf, update-initramfs, update-grub:
#     the "khib: resume" entry), `khib check` all PASS, reboot (logind takes
#     khib's drop-in at its start);
#   boot 2 (normal entry): CanHibernate and CanHybridSleep yes,
#     suspend-then-hibernate refused, the
#     workload started by systemd units (sqlite WAL writer, 320 MiB memory
#     pattern, TCP loopback pair; journald), a system-sleep hook, then
#     `systemctl hibernate`: the transient kernel saves and powers off;
#   boot 3 (GRUB's one-shot next entry, set by khib: the restore entry):
#     the restore kernel restores and jumps back; the guest verifies
#     everything (tests/qemu/distro/guest/hibernate.sh), then hibernates
#     again in the same boot;
#   boot 4: restored again, verified, then the workload stops, the package
#     is purged (nothing left behind) and the guest powers off;
# then the host checks the root file system (e2fsck -fn) and the database
# (integrity_check, rows 1..N gapless, N at least the last commit the guest
# reported before its last hibernation), and prints the phase times.
#
# Usage: tests/qemu/distro.sh [RELEASE...]    default: bookworm trixie
# Needs root; the first run needs the network (debootstrap).
# A guest's boot installs packages and builds initramfs images under TCG:
# minutes each on a loaded host.
QEMU_TIMEOUT=${QEMU_TIMEOUT:-1500}
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/common.sh disable=SC1091 # followed by shellcheck -x
. "$(dirname "$0")/lib/common.sh"
set -u
D=$KHIB_TOP/tests/qemu/distro
GUEST_MEM=${GUEST_MEM:-1G}
export GUEST_MEM
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
# shellcheck source=distro/firmware.sh disable=SC1091 # followed by shellcheck -x
. "$D/firmware.sh"

if [ "$(id -u)" != 0 ] || ! command -v debootstrap > /dev/null 2>&1 || ! command -v sqlite3 > /dev/null 2>&1; then
    fail "distro needs root, debootstrap and sqlite3 (make deps)"
    finish
    exit
fi
kernel=$(test_kernel) || { fail "no test kernel"; finish; exit; }
make -s -C "$KHIB_TOP" all build/khib-testload >&2 || { fail "make"; finish; exit; }
version=$(dpkg-parsechangelog -l "$KHIB_TOP/debian/changelog" -S Version)
deb=$KHIB_TOP/build/khib_${version}_$(dpkg --print-architecture).deb
if make -s -C "$KHIB_TOP" deb > /dev/null 2>&1 && [ -s "$deb" ]; then pass "make deb built $(basename "$deb")"; else
    fail "make deb (run it to see why)"
    finish
    exit
fi
work=$(mktemp -d /var/tmp/khib-distro.XXXXXX)
if [ -z "${KHIB_KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else log "keeping $work"; fi

# span LOG1 TEXT1 LOG2 TEXT2: seconds between two serial lines, or "?".
span() {
    t1=$(at "$1" "$2")
    t2=$(at "$3" "$4")
    if [ -n "$t1" ] && [ -n "$t2" ]; then echo "$t1 $t2" | awk '{ printf "%.1f", $2 - $1 }'; else echo "?"; fi
}
# after LOG TEXT T: the host time of the first line holding TEXT after time T.
after() { grep -F -- "$2" "$1" | sed -n 's/^\[\([0-9.]*\)\].*/\1/p' | awk -v t="$3" '$1 > t' | head -n 1; }
# nth LOG TEXT N: the host time of the Nth line holding TEXT.
nth() { grep -F -- "$2" "$1" | sed -n "$3s/^\[\([0-9.]*\)\].*/\1/p"; }

run_release() {
    rel=$1
    w=$work/$rel
    mkdir -p "$w/ctl/units"
    if ! disk=$(sh "$D/image.sh" "$rel" "$kernel"); then fail "$rel: the guest disk could not be built"; return; fi
    qemu-img create -q -f qcow2 -F raw -b "$disk" "$w/disk.qcow2" || { fail "$rel: qemu-img create"; return; }
    cp "$D"/guest/*.sh "$KHIB_TOP/build/khib-testload" "$KHIB_TOP/build/khib-gencore" "$w/ctl/"
    cp "$D"/guest/units/*.service "$w/ctl/units/"
    cp "$deb" "$w/ctl/khib.deb"
    # Each guest's target and extras (guest/lib.sh): bookworm keeps its
    # image in a file on its root ext4 and sleeps twice with suspend-to-both
    # (hybrid_watch); bookworm-dracut in a file on the xfs at /srv/khib
    # (partition 3, image.sh); trixie on the raw partition 3, with a refused
    # image on it before boot 2 (guest/run.sh).
    hybrid=
    case "$rel" in
        bookworm) printf 'FILE=/var/lib/khib/image\nHYBRID=1\n'; hybrid=1 ;;
        bookworm-dracut) echo "FILE=/srv/khib/image" ;;
        trixie) echo "REFUSE=1" ;;
    esac > "$w/ctl/settings"
    tar -C "$w/ctl" -cf "$w/ctl.tar" . || { fail "$rel: control disk"; return; }
    # UEFI: OVMF with this guest's own copy of the variable store, kept
    # across its four boots as a machine's NVRAM is; the system disk first
    # in the boot order (GRUB is on it at the removable media path).
    fw=$(firmware "$rel")
    if [ "$fw" = uefi ]; then
        cp "$OVMF_VARS" "$w/vars.fd" || { fail "$rel: no OVMF ($OVMF_VARS)"; return; }
        set -- -drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" -drive "if=pflash,format=raw,file=$w/vars.fd" \
            -drive "file=$w/disk.qcow2,format=qcow2,if=none,id=sys" -device virtio-blk-pci,drive=sys,bootindex=0
    else
        set -- -drive "file=$w/disk.qcow2,format=qcow2,if=virtio"
    fi
    boot=1
    while [ "$boot" -le 4 ]; do
        blog=$w/boot$boot.log
        if [ -n "$hybrid" ]; then
            # S3 for the transient kernel's suspend-to-both, QMP for the host's
            # wake (-global PIIX4_PM.disable_s3=0: tests/qemu/hybrid.sh).
            rm -f "$blog.pid"
            run_guest "$blog" "" "" "" "$@" -drive "file=$w/ctl.tar,format=raw,if=virtio,readonly=on" \
                -global PIIX4_PM.disable_s3=0 -qmp "unix:$w/qmp.sock,server=on,wait=off" -pidfile "$blog.pid" &
            gpid=$!
            hybrid_watch "$blog" "$w/qmp.sock" "$gpid"
            wait "$gpid"
            rc=$?
            ! grep -q "host: power cut during the sleep" "$blog" || rc=0
        else
            run_guest "$blog" "" "" "" "$@" -drive "file=$w/ctl.tar,format=raw,if=virtio,readonly=on"
            rc=$?
        fi
        collect "$blog"
        if [ "$rc" != 0 ]; then
            fail "$rel: boot $boot: QEMU exited with $rc (124: timeout after $QEMU_TIMEOUT s)"
            show_log "$blog"
            return
        fi
        grep -q "KHIBTEST: INFO done" "$blog" && break
        if ! grep -q "KHIBTEST: INFO \(hibernating\|rebooting\)" "$blog"; then
            fail "$rel: boot $boot stopped without hibernating or rebooting"
            show_log "$blog"
            return
        fi
        boot=$((boot + 1))
    done
    if [ "$boot" = 4 ]; then pass "$rel: four boots: install and reboot, two hibernations${hybrid:+ (the second a suspend-to-both cut during its sleep)}, two resumes"; else
        fail "$rel: $boot boots (expected 4)"
        show_log "$blog"
        return
    fi
    grep -q "KHIBTEST: FAIL" "$w"/boot*.log && { for f in "$w"/boot*.log; do show_log "$f"; done; }
    boot_checks "$rel" "$w"
    cat "$w"/boot[234].log > "$w/saves.log"
    # Each hibernation left free pages out (B) and R poisoned them
    # (restore-append=khib.poison=1) before it jumped: the verification after
    # each resume is what proves that no page was wrongly left out.  The
    # woken suspend-to-both saved too, but nothing was restored after it.
    saves=2
    [ -z "$hybrid" ] || saves=3
    check_exclusion "$w/saves.log" "$saves" 2 "$rel"
    memmap_checks "$rel" "$w" "$fw"
    host_checks "$rel" "$w" "$disk"
    phases "$rel" "$w"
    jump_split "$rel" "$w"
    [ "$rel" != bookworm ] || hybrid_phases "$w"
}

# hybrid_watch LOG SOCKET PID: the host's part of the guest's
# suspend-to-both while the boot of PID runs: each time the transient
# kernel sleeps ("PM: suspend entry (deep)", QEMU "suspended"), wait 2 s,
# then wake it (QMP system_wakeup) when the guest's last word was
# "hybrid-sleep wake", or cut the power when it was "hybrid-sleep cut".
hybrid_watch() {
    hn=0
    while kill -0 "$3" 2> /dev/null; do
        hc=$(grep -cF "PM: suspend entry (deep)" "$1" 2> /dev/null) || true
        if [ "${hc:-0}" -gt "$hn" ]; then
            hn=$hc
            n=0
            while [ "$(qmp_status "$2" 2> /dev/null)" != suspended ] && [ "$n" -lt 150 ]; do n=$((n + 1)); sleep 0.2; done
            sleep 2
            case "$(grep -o "KHIBTEST: INFO hybrid-sleep [a-z]*" "$1" | tail -n 1)" in
                *wake)
                    stamp "host: system_wakeup" >> "$1"
                    qmp "$2" '{"execute":"qmp_capabilities"}' '{"execute":"system_wakeup"}' || stamp "host: QMP system_wakeup failed" >> "$1"
                    ;;
                *cut)
                    stamp "host: power cut during the sleep" >> "$1"
                    kill -KILL "$(cat "$1.pid")"
                    ;;
            esac
        fi
        sleep 0.5
    done
}

# qcheck WHAT COMMAND...: pass WHAT when COMMAND succeeds, else fail it.
qcheck() {
    qwhat=$1
    shift
    if "$@"; then pass "$qwhat"; else fail "$qwhat"; fi
}

# upto LOG TEXT: the serial lines before the first one holding TEXT.
upto() { awk -v t="$2" '{ print } index($0, t) { exit }' "$1"; }

# boot_checks REL DIR: what the consoles show of the hook in the ordinary
# entry's initramfs: boot 2 a normal boot (no image, or trixie's refused
# one), boots 3 and 4 a resume through it.
boot_checks() {
    rel=$1 w=$2
    # Where the image is: the partition, or the device and first block of
    # the image file (guest/run.sh, "image-place DEV [OFFSET]").
    place=$(sed -n 's/.*KHIBTEST: INFO image-place \(.*\)$/\1/p' "$w/boot1.log" | tail -n 1)
    dev=${place%% *} off=
    [ "$dev" = "$place" ] || off=${place#* }
    # One kernel until the system is up: the hook booted no second one.
    n=$(upto "$w/boot2.log" "KHIBTEST: INFO system up" | grep -c "Linux version")
    qcheck "$rel: boot 2 (ordinary entry, nothing to resume): one kernel boot, no second (Linux version: $n)" test "$n" = 1
    if [ "$rel" = trixie ]; then
        expect "$w/boot2.log" "khib: not resuming the hibernated system on /dev/vda3: not restoring /dev/vda3: the firmware memory map" \
            "$rel: boot 2: the hook refused the image, saying why, and booted on"
        expect "$w/boot2.log" "abandoned: a normal boot started: the image was refused" "$rel: boot 2: the refused image was retired"
    fi
    # GRUB's linux command puts BOOT_IMAGE= first; R's, loaded by the hook, has none.
    for b in 3 4; do
        l=$w/boot$b.log
        first=$(grep -m 1 "Command line:" "$l")
        case "$first" in
            *BOOT_IMAGE=*khib.role=*) fail "$rel: boot $b: GRUB started khib's restore entry, not the ordinary one" ;;
            *BOOT_IMAGE=*) pass "$rel: boot $b: GRUB started the ordinary entry" ;;
            *) fail "$rel: boot $b: no GRUB entry's command line ($first)" ;;
        esac
        expect "$l" "khib: resuming the hibernated system from $dev: starting the restore kernel" \
            "$rel: boot $b: the hook in the ordinary initramfs found the image and started the restore kernel"
        if grep "Command line:" "$l" | sed -n 2p | grep -q "nokaslr memmap=exactmap memmap=640K@0 memmap=191M@1M khib.role=restore khib.image=$dev${off:+ khib.offset=$off} khib.normal=reboot console=ttyS0 panic=-1"; then
            pass "$rel: boot $b: the restore kernel runs confined to the image's window (192 MiB), on the image at $dev${off:+ byte $off}"
        else
            fail "$rel: boot $b: the restore kernel's command line: $(grep "Command line:" "$l" | sed -n 2p)"
        fi
        # (Up to the resume: boot 3 hibernates again, and B's boot follows.)
        n=$(upto "$l" "khib: resumed from image" | grep -c "Linux version")
        qcheck "$rel: boot $b: two kernel boots: the ordinary one and R (Linux version: $n)" test "$n" = 2
        # A progress line a second (lib/progress.c): a restore shorter than
        # two seconds (an idle host, a small image) may end before the first.
        p=$(grep -E "khib-restore: [0-9]+/[0-9]+ MiB \([0-9]+%\), [0-9]+ MiB/s" "$l" | tail -n 1 | sed 's/^\[[0-9.]*\] //')
        took=$(sed -n 's/.*khib-restore: restored image .* in \([0-9.]*\) s, .*/\1/p' "$l" | tail -n 1)
        # shellcheck disable=SC2016 # expanded by sh -c
        qcheck "$rel: boot $b: R's console shows the restore's progress (${p:-none; the restore took ${took:-?} s})" \
            sh -c '[ -n "$1" ] || awk -v t="$2" "BEGIN { exit !(t != \"\" && t < 2) }"' sh "$p" "$took"
        expect "$l" "khib: resumed from image" "$rel: boot $b: the console says the system resumed"
    done
    if [ "$rel" = bookworm-dracut ]; then
        # systemd's own lines (PID 1) before the hook: the initramfs ran
        # systemd (without it, dracut still starts systemd-udevd).
        n3=$(upto "$w/boot3.log" "khib: resuming the hibernated" | grep -c "systemd\[1\]")
        n4=$(upto "$w/boot4.log" "khib: resuming the hibernated" | grep -c "systemd\[1\]")
        qcheck "$rel: resume 1 through dracut with systemd ($n3 lines), resume 2 without ($n4)" test "$n3" -gt 0 -a "$n4" = 0
    fi
    c=$(sed -n 's/.*KHIBTEST: INFO hook-cost-ms \([0-9.]*\) check-ms \([0-9.]*\).*/\1 ms, of which khib-restore --resumable \2 ms/p' "$w/boot2.log" | tail -n 1)
    echo "$rel: the hook's cost on a boot without an image: ${c:-?} (mean of 20 runs in the running guest)"
}

# memmap_checks REL DIR FIRMWARE: the memory map R compares (its digest,
# docs/image-format.md), as each A boot of the guest saw it (boots 1 and 2,
# the guest's khib-restore --memmap), and how each kernel's boot saw the
# firmware's map: the first lines of the console's "BIOS-e820" (or "user")
# table of every kernel start, for the report.  R compared its digest with
# the saved one at each resume (a refusal fails boot_checks).
memmap_checks() {
    rel=$1 w=$2
    d1=$(sed -n 's/.*KHIBTEST: INFO memmap digest \([0-9a-f]*\).*/\1/p' "$w/boot1.log" | tail -n 1)
    d2=$(sed -n 's/.*KHIBTEST: INFO memmap digest \([0-9a-f]*\).*/\1/p' "$w/boot2.log" | tail -n 1)
    qcheck "$rel ($3): the memory map's digest is the same in both A boots (${d1:-?}, ${d2:-?})" \
        test -n "$d1" -a "$d1" = "$d2"
    if [ "$d1" != "$d2" ]; then
        echo "$rel: boot 1's memory map:"
        sed -n 's/.*KHIBTEST: INFO memmap \(0x.*\|efi-runtime.*\)$/    \1/p' "$w/boot1.log"
        echo "$rel: boot 2's memory map:"
        sed -n 's/.*KHIBTEST: INFO memmap \(0x.*\|efi-runtime.*\)$/    \1/p' "$w/boot2.log"
    fi
    # The e820 table each kernel printed at its start, one digest line per
    # kernel boot: the same map gives the same line.
    for b in 1 2 3 4; do
        tr -d '\r' < "$w/boot$b.log" | awk -v b="$b" '
            /Linux version/ { k++ }
            / (BIOS-e820|BIOS-provided|efi: EFI v)/ { sub(/^\[[0-9.]*\] *(\[ *[0-9.]*\] )?/, ""); t[k] = t[k] $0 "|" }
            END { for (i = 1; i <= k; i++) print "boot " b " kernel " i ": " t[i] }'
    done > "$w/e820.txt"
    echo "$rel: the firmware maps the kernels printed (boot, kernel: distinct maps numbered in order of appearance):"
    awk '{ i = index($0, ": "); m = substr($0, i + 2); if (!(m in n)) n[m] = ++c
        printf "    %s: map %d\n", substr($0, 1, i - 1), n[m] }' "$w/e820.txt" | paste -sd ';' - | sed 's/;    /; /g'
}

# host_checks REL DIR DISK: the root file system and the database, from
# outside (DISK: the base image under the guest's overlay).
host_checks() {
    rel=$1 w=$2 disk=$3
    # The root partition of the guest's disk, as a raw file: where it
    # starts and ends, from the partition table of the base image.
    part=$(sfdisk -d "$3" | awk -F'[=,]' '/name="root"/ { gsub(/ /, ""); print $2, $4 }')
    # shellcheck disable=SC2086 # start and size
    set -- $part
    if qemu-img convert -O raw --image-opts \
        "driver=raw,offset=$(($1 * 512)),size=$(($2 * 512)),file.driver=qcow2,file.file.filename=$w/disk.qcow2" \
        "$w/root.ext4" 2> "$w/convert.err"; then :; else fail "$rel: extracting the root: $(cat "$w/convert.err")"; return; fi
    if e2fsck -fn "$w/root.ext4" > "$w/fsck.log" 2>&1; then pass "$rel: e2fsck -fn of the root is clean"; else
        fail "$rel: e2fsck -fn of the root: $(tail -n 5 "$w/fsck.log" | tr '\n' ' ')"
    fi
    # bookworm-dracut's image file lives on the xfs of partition 3.
    if [ "$rel" = bookworm-dracut ]; then
        part=$(sfdisk -d "$disk" | awk -F'[=,]' '/name="khib"/ { gsub(/ /, ""); print $2, $4 }')
        # shellcheck disable=SC2086 # start and size
        set -- $part
        if qemu-img convert -O raw --image-opts \
            "driver=raw,offset=$(($1 * 512)),size=$(($2 * 512)),file.driver=qcow2,file.file.filename=$w/disk.qcow2" \
            "$w/srv.xfs" 2> "$w/convert.err" && xfs_repair -n "$w/srv.xfs" > "$w/xfs.log" 2>&1; then
            pass "$rel: xfs_repair -n of the xfs holding the image file is clean"
        else
            fail "$rel: xfs_repair -n of /srv/khib's xfs: $(cat "$w/convert.err"; tail -n 5 "$w/xfs.log" | tr '\n' ' ')"
        fi
        rm -f "$w/srv.xfs"
    fi
    for f in db.sqlite db.sqlite-wal; do
        debugfs -R "dump /var/lib/khibtest/$f $w/$f" "$w/root.ext4" > /dev/null 2>&1
    done
    [ -s "$w/db.sqlite-wal" ] || rm -f "$w/db.sqlite-wal"
    ic=$(sqlite3 "$w/db.sqlite" "PRAGMA integrity_check" 2>&1)
    if [ "$ic" = ok ]; then pass "$rel: sqlite integrity_check ok"; else fail "$rel: sqlite integrity_check: $ic"; fi
    r=$(sqlite3 "$w/db.sqlite" "SELECT min(seq) || ' ' || max(seq) || ' ' || count(*) FROM t" 2>&1)
    # shellcheck disable=SC2086 # min, max and count
    set -- $r
    reported=$(sed -n 's/.*KHIBTEST: INFO sqlite-committed \([0-9]*\).*/\1/p' "$w"/boot*.log | tail -n 1)
    final=$(sed -n 's/.*KHIBTEST: INFO sqlite-final \([0-9]*\).*/\1/p' "$w"/boot*.log | tail -n 1)
    if [ "${1:-}" = 1 ] && [ "${2:-x}" = "${3:-y}" ]; then pass "$rel: rows 1..$2 gapless on the disk"; else
        fail "$rel: rows on the disk not gapless: min ${1:-?} max ${2:-?} count ${3:-?}"
    fi
    if [ -n "$reported" ] && [ "${2:-0}" -ge "$reported" ] && [ "${2:-0}" = "${final:-x}" ]; then
        pass "$rel: the disk has every row committed ($2; $reported before the last hibernation, $final at the end)"
    else
        fail "$rel: rows on the disk ${2:-?}, reported before the last hibernation ${reported:-?}, at the end ${final:-?}"
    fi
}

# phases REL DIR: the phase times of both cycles, from the serial logs.
phases() {
    rel=$1 w=$2
    printf '%s phases (s): A boot (power on to systemd running) %s, with khib installed %s\n' "$rel" \
        "$(span "$w/boot1.log" "qemu start" "$w/boot1.log" "KHIBTEST: INFO system up")" \
        "$(span "$w/boot2.log" "qemu start" "$w/boot2.log" "KHIBTEST: INFO system up")"
    for c in 1 2; do
        hlog=$w/boot$((c + 1)).log rlog=$w/boot$((c + 2)).log
        h=$(at "$hlog" "KHIBTEST: INFO hibernating $c")
        # Each mark the first after the hibernation began (bookworm's boot 2
        # holds its woken suspend-to-both before); B's kernel: the first
        # "Linux version" then.
        b0=$(after "$hlog" "Linux version" "$h")
        jumping=$(after "$hlog" "khib: hibernating " "$h")
        binit=$(after "$hlog" "khib-init: transient kernel" "$h")
        # A suspend-to-both whose power the host cut: saved when B sleeps.
        saved=$(after "$hlog" "image saved: powering off" "$h")
        [ -n "$saved" ] || saved=$(after "$hlog" "PM: suspend entry (deep)" "$h")
        off=$(at "$hlog" "qemu exit")
        r0=$(at "$rlog" "qemu start")
        hook=$(at "$rlog" "khib: resuming the hibernated system")
        rinit=$(at "$rlog" "khib-init: restore kernel")
        rjump=$(at "$rlog" "khib-restore: jumping")
        resumed=$(at "$rlog" "khib: resumed from image")
        echo "$h ${jumping:-$h} ${b0:-0} ${binit:-0} ${saved:-0} ${off:-0} ${r0:-0} ${hook:-0} ${rinit:-0} ${rjump:-0} ${resumed:-0}" |
            awk -v rel="$rel" -v c="$c" '{ printf "%s cycle %d (s): hibernate prep %.1f, jump + B boot %.1f, save %.1f, power-off (or sleep until the cut) %.1f, ordinary boot to the hook (power on, GRUB, kernel, initramfs) %.1f, kexec + R boot %.1f, restore %.1f, resume %.1f\n", rel, c, $2 - $1, $4 - $2, $5 - $4, $6 - $5, $8 - $7, $9 - $8, $10 - $9, $11 - $10 }'
    done
}

# jump_split REL DIR: each jump of A into B (boots 2 and 3), cut at the
# marks the guests put on the console (guest/run.sh, hibernate.sh): khib's
# line, A's last line before purgatory (its console stays on through its
# device suspend), purgatory's, B's first (earlyprintk), B's /init; and the
# slowest device callback of A's suspend (pm_print_times, where the kernel
# has CONFIG_PM_SLEEP_DEBUG).  As make
# bench-jump cuts its rounds (docs/performance.md, "The jump").
jump_split() {
    for b in 2 3; do
        perl -ne '
            BEGIN { ($rel, $b) = splice(@ARGV, 0, 2) }
            my ($t) = /^\[([0-9.]+)\]/ or next;
            if (/khib: hibernating \d+ MiB/) { %m = (hib => $t); $slow = 0; }
            elsif ($m{hib} && !$m{purg}) {
                if (/I.m in purgatory/) { $m{purg} = $t; $m{alast} = $prev; }
                elsif (/^\S+ (?:\[ *[0-9.]+\] )?(.+?): \S+ returned -?\d+ after (\d+) usecs/ && $2 > $slow) { $slow = $2; $dev = $1; }
            }
            elsif ($m{purg} && !$m{b1} && /Linux version/) { $m{b1} = $t; }
            elsif ($m{b1} && !$m{init} && /khib-init: transient kernel/) {
                $m{init} = $t;
                printf "%s boot %d jump (s): suspend %.1f%s, swap %.1f, purgatory to B %.1f, B to /init %.1f\n",
                    $rel, $b, $m{alast} - $m{hib}, $slow ? sprintf(" (slowest device %s: %.1f ms)", $dev, $slow / 1000) : "",
                    $m{purg} - $m{alast}, $m{b1} - $m{purg}, $t - $m{b1};
                %m = ();
            }
            $prev = $t;' "$1" "$b" "$2/boot$b.log"
    done
}

# hybrid_phases DIR: the woken suspend-to-both of bookworm's boot 2.
hybrid_phases() {
    l=$1/boot2.log
    echo "bookworm: the woken suspend-to-both (systemctl hybrid-sleep; s, host clock):"
    phase "prepare + jump + B boot" "$(at "$l" "KHIBTEST: INFO hybrid-sleep wake")" "$(at "$l" "khib-init: transient kernel")"
    phase "save and commit" "$(at "$l" "khib-init: transient kernel")" "$(at "$l" "PM: suspend entry (deep)")"
    phase "wake -> B resumed" "$(at "$l" "host: system_wakeup")" "$(at "$l" "PM: suspend exit")"
    phase "wake -> A running" "$(at "$l" "host: system_wakeup")" "$(at "$l" "khib: woke from suspend-to-both")"
    phase "wake -> systemctl returned" "$(at "$l" "host: system_wakeup")" "$(at "$l" "KHIBTEST: INFO back from hybrid-sleep wake")"
}

# The releases run side by side (DISTRO_SERIAL=1: one after the other, for
# phase times without the other guest): most of a guest's work (dpkg,
# update-initramfs) keeps one CPU busy, and there are two.  Each prints its
# results and its own count; the total is theirs.
# shellcheck source=../lib/counts.sh disable=SC1091 # followed by shellcheck -x
. "$KHIB_TOP/tests/lib/counts.sh"
# shellcheck disable=SC2086 # the list
[ $# -gt 0 ] || set -- ${DISTRO_RELEASES:-bookworm trixie bookworm-dracut}
for rel in "$@"; do
    ( PASSED=0 FAILED=0; t0=$(date +%s); run_release "$rel"; echo "$rel: $(( $(date +%s) - t0 )) s"; finish ) \
        > "$work/$rel.out" 2>&1 &
    [ -z "${DISTRO_SERIAL:-}" ] || wait
done
wait
for rel in "$@"; do
    out=$(cat "$work/$rel.out")
    printf '%s\n' "$out" | sed '$d'
    c=$(counts_of 0 "$out")
    PASSED=$((PASSED + ${c% *})) FAILED=$((FAILED + ${c#* }))
done
finish
