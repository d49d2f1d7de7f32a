# shellcheck shell=sh disable=SC2034 # SIDE, MARKER, DISK_*: read by soak.sh
# The soak's host helpers (sourced by tests/qemu/soak.sh after
# tests/qemu/lib/common.sh): the seeded plan, the moments of the cuts, the
# disk as a cut left it, and the phase times.

# --- the plan -------------------------------------------------------------------
# A 31-bit linear congruential generator in shell arithmetic: the same seed
# gives the same plan on any machine and shell (awk's rand() differs between
# mawk and gawk).  rand_below N sets R to a number in [0, N).
RNG=1
rand_seed() { RNG=$(($1 % 2147483648)); }
rand_below() {
    RNG=$(((RNG * 1103515245 + 12345) % 2147483648))
    R=$(((RNG >> 8) % $1))
}

# The places a cut may hit, in the order a hibernation passes them (the
# issue's list).  slot_info SLOT sets SIDE (save: the cut ends the run that
# hibernates; restore: the next run, which boots the ordinary entry, is cut),
# MARKER (the serial line a timed cut counts from, a Perl regular
# expression), SPAN (seconds: a timed cut falls at a uniform random moment
# in [0, SPAN) after MARKER; SPAN is about the phase's median length on an
# idle two-core host under TCG, docs/reliability.md: on a loaded host the
# phase lasts longer and the cut still falls inside it; on a faster one a
# cut may land in the next phase, which the log names) and POINTS (the fault points it may use,
# docs/failures.md: one is drawn; none: a timed cut).  A fault point stops
# the program there for good; the cut follows at once.
SLOTS="prep bboot save index commit poweroff rboot restore consumed jumpback"
slot_info() {
    SIDE=save POINTS=
    case "$1" in
        # From khib hibernate's last line before the jump (the checks passed,
        # B loaded, memory trimmed): the sync, the devices' suspend, the
        # page swap, purgatory.
        prep) MARKER='khib: hibernating [0-9]+ MiB' SPAN=${KHIB_SOAK_SPAN_PREP:-1.5} ;;
        # B's kernel from its first line to khib's initramfs.
        bboot) MARKER='Linux version' SPAN=${KHIB_SOAK_SPAN_BBOOT:-2.5} ;;
        # khib-save: the superblock WRITING, the chunks, the index, the commit.
        save) MARKER='khib-init: transient kernel' SPAN=${KHIB_SOAK_SPAN_SAVE:-5} ;;
        # Every chunk written, no index yet; or the index written, not synced.
        index) MARKER='' SPAN=0 POINTS="save-data save-index" ;;
        # The data and index synced, COMMITTED not written; or written and synced.
        commit) MARKER='' SPAN=0 POINTS="save-synced save-committed" ;;
        # B's "image saved" line to QEMU's exit at the power-off.
        poweroff) MARKER='image saved: powering off' SPAN=${KHIB_SOAK_SPAN_POWEROFF:-0.12} ;;
        # The hook in the ordinary initramfs starts R: kexec, R's boot.
        rboot) SIDE=restore MARKER='khib: resuming the hibernated system from' SPAN=${KHIB_SOAK_SPAN_RBOOT:-4} ;;
        # khib-restore: the checks, then the memory written back.  The
        # sample's cut must fall in the restore on any host: at a fault point
        # (every check passed, nothing written; or half the memory written).
        restore) SIDE=restore MARKER='khib-init: restore kernel' SPAN=${KHIB_SOAK_SPAN_RESTORE:-5}
            POINTS=${SAMPLE:+restore-validated restore-half-memory} ;;
        # Before the CONSUMED write (all memory written, the jump loaded), or
        # right after it (synced).
        consumed) SIDE=restore MARKER='' SPAN=0 POINTS="restore-before-consumed restore-consumed" ;;
        # The jump into A and A's way back up, or the last instant before it.
        jumpback) SIDE=restore MARKER='khib-restore: jumping' SPAN=${KHIB_SOAK_SPAN_JUMPBACK:-2} POINTS="restore-before-jump -" ;;
        *) return 1 ;;
    esac
}

# plan_cut SLOT: one cut of SLOT with its random moment: sets CUT to
# "SLOT POINT DELAY" (POINT "-" for a timed cut, DELAY "-" for a point).
# The draws happen in this shell: a subshell's would not move the
# generator on.
plan_cut() {
    slot_info "$1"
    point=-
    if [ -n "$POINTS" ]; then
        # shellcheck disable=SC2086 # the list
        set -- "$1" $POINTS
        rand_below $(($# - 1))
        shift $((R + 1))
        point=$1
    fi
    if [ "$point" = - ]; then
        rand_below 1000
        CUT="$SLOT_NAME - $(awk -v s="$SPAN" -v r="$R" 'BEGIN { printf "%.3f", s * r / 1000 }')"
    else
        CUT="$SLOT_NAME $point -"
    fi
}

# shuffle LIST...: SHUFFLED, the words in a seeded random order (Fisher-Yates).
shuffle() {
    SHUFFLED=
    while [ "$#" -gt 0 ]; do
        rand_below "$#"
        i=$((R + 1))
        rest=
        j=0
        for x in "$@"; do
            j=$((j + 1))
            if [ "$j" = "$i" ]; then SHUFFLED="$SHUFFLED $x"; else rest="$rest $x"; fi
        done
        # shellcheck disable=SC2086 # words
        set -- $rest
    done
    SHUFFLED=${SHUFFLED# }
}

# make_plan CYCLES CUTS SAMPLE REPLAY: the steps, one line each:
# "K cycle - -" or "K SLOT POINT DELAY".  Cuts go round the slots, each
# round in a seeded random order; the sample (SAMPLE non-empty) holds a cut
# in the commit, the consumed write and the restore, and seeded others.
# REPLAY: the cuts given as "SLOT:POINT" or "SLOT:DELAY" words instead.
make_plan() {
    k=0
    while [ "$k" -lt "$1" ]; do
        k=$((k + 1))
        echo "$k cycle - -"
    done
    if [ -n "$4" ]; then
        for word in $4; do
            k=$((k + 1))
            SLOT_NAME=${word%%:*}
            arg=${word#*:}
            slot_info "$SLOT_NAME" || { echo "soak: KHIB_SOAK_REPLAY: no slot $SLOT_NAME" >&2; return 1; }
            case "$arg" in
                [0-9]*) echo "$k $SLOT_NAME - $arg" ;;
                *) echo "$k $SLOT_NAME $arg -" ;;
            esac
        done
        return 0
    fi
    cuts=$2
    SAMPLE=$3
    if [ -n "$SAMPLE" ]; then
        # shellcheck disable=SC2086 # words
        shuffle prep bboot save index poweroff rboot jumpback
        # shellcheck disable=SC2086 # words
        set -- $SHUFFLED
        shuffle commit consumed restore "$1" "$2" "$3"
        # shellcheck disable=SC2086 # words
        set -- $SHUFFLED
        while [ "$cuts" -gt 0 ] && [ "$#" -gt 0 ]; do
            SLOT_NAME=$1
            shift
            k=$((k + 1))
            plan_cut "$SLOT_NAME"
            echo "$k $CUT"
            cuts=$((cuts - 1))
        done
        return 0
    fi
    while [ "$cuts" -gt 0 ]; do
        # shellcheck disable=SC2086 # words
        shuffle $SLOTS
        for SLOT_NAME in $SHUFFLED; do
            [ "$cuts" -gt 0 ] || break
            k=$((k + 1))
            plan_cut "$SLOT_NAME"
            echo "$k $CUT"
            cuts=$((cuts - 1))
        done
    done
}

# --- the serial logs ----------------------------------------------------------
# after LOG ANCHOR TEXT: the host time of the first line holding TEXT after
# the first line holding ANCHOR (fixed strings; ANCHOR "" from the start).
after() {
    awk -v a="$2" -v t="$3" '
        BEGIN { on = (a == "") }
        !on { if (index($0, a)) on = 1; next }
        index($0, t) { if (match($0, /^\[[0-9.]+\]/)) print substr($0, 2, RLENGTH - 2); exit }' "$1"
}

# section LOG K: the lines of a run's log that belong to the outcome of
# step K: from the start up to the next step's marker (or the end).
section() {
    awk -v k="$2" '{ print } /KHIBTEST: INFO soak-step / && $0 !~ (" soak-step " k " ") { exit }
        /KHIBTEST: INFO done/ { exit }' "$1"
}

# landed LOG CUT_TIME: the last phase marker before the cut (what the guest
# was doing when the power went).
landed() {
    awk -v c="$2" '
        match($0, /^\[[0-9.]+\]/) { t = substr($0, 2, RLENGTH - 2) + 0; if (t > c) exit }
        /KHIBTEST: INFO soak-step / { p = "before the jump (khib hibernate running)" }
        /khib: hibernating [0-9]+ MiB/ { p = "prep (after khib hibernate'"'"'s last line)" }
        /Linux version/ && p ~ /^prep/ { p = "bboot (B'"'"'s kernel)" }
        /khib-init: transient kernel/ { p = "save (khib-save)" }
        /image saved: powering off/ { p = "poweroff" }
        /khib: resuming the hibernated system from/ { p = "rboot (kexec, R'"'"'s kernel)" }
        /khib-init: restore kernel/ { p = "restore (khib-restore)" }
        /khib-restore: jumping/ { p = "jumpback (the jump, A resuming)" }
        /khib: resumed from image/ { p = "after the resume (A running)" }
        END { print (p == "" ? "the ordinary boot" : p) }' "$1"
}

# --- the disk as the cut left it ------------------------------------------------
# disk_check LABEL OVERLAY BASE REPORTED DIR: the guest's root file system
# and image partition as they are on OVERLAY (a qcow2 over BASE, the cached
# disk whose partition table it keeps), read through copies in DIR: sets
# DISK_STATE (the image's state) and DISK_MAX (the database's last row), and
# DISK_OK (empty when something failed; the reasons printed).  The root:
# its journal replayed as the next mount would (e2fsck -E journal_only, on
# the copy), then e2fsck -fn clean; the database intact (integrity_check)
# and rows 1..N gapless with N at least REPORTED.
disk_check() {
    dlabel=$1 dover=$2 dbase=$3 dreported=$4 ddir=$5
    DISK_OK=1 DISK_STATE='?' DISK_MAX='?'
    rm -rf "$ddir"
    mkdir -p "$ddir"
    parts=$(sfdisk -d "$dbase" | awk -F'[=,]' '/name="(root|khib)"/ { gsub(/ /, ""); printf "%s %s ", $2, $4 }')
    # shellcheck disable=SC2086 # root start size, khib start size
    set -- $parts
    if ! qemu-img convert -O raw --image-opts \
        "driver=raw,offset=$(($3 * 512)),size=1048576,file.driver=qcow2,file.file.filename=$dover" \
        "$ddir/khib-head.img" 2> "$ddir/err"; then
        echo "    $dlabel: reading the image partition: $(cat "$ddir/err")"
        DISK_OK=
    else
        DISK_STATE=$("$KHIB_TOP/build/khib-restore" --image "$ddir/khib-head.img" --info 2>/dev/null |
            sed -n 's/^state: *//p' | grep . || echo none)
    fi
    if ! qemu-img convert -O raw --image-opts \
        "driver=raw,offset=$(($1 * 512)),size=$(($2 * 512)),file.driver=qcow2,file.file.filename=$dover" \
        "$ddir/root.ext4" 2> "$ddir/err"; then
        echo "    $dlabel: extracting the root: $(cat "$ddir/err")"
        DISK_OK=
        return 0
    fi
    rc=0
    e2fsck -y -E journal_only "$ddir/root.ext4" > "$ddir/replay.log" 2>&1 || rc=$?
    if [ "$rc" -gt 1 ]; then
        echo "    $dlabel: the journal replay (e2fsck -E journal_only) exit $rc: $(tail -n 3 "$ddir/replay.log" | tr '\n' ' ')"
        DISK_OK=
    fi
    if ! e2fsck -fn "$ddir/root.ext4" > "$ddir/fsck.log" 2>&1; then
        echo "    $dlabel: e2fsck -fn after the journal replay: $(tail -n 5 "$ddir/fsck.log" | tr '\n' ' ')"
        DISK_OK=
    fi
    for f in db.sqlite db.sqlite-wal; do
        debugfs -R "dump /var/lib/khibtest/$f $ddir/$f" "$ddir/root.ext4" > /dev/null 2>&1 || true
    done
    [ -s "$ddir/db.sqlite-wal" ] || rm -f "$ddir/db.sqlite-wal"
    ic=$(sqlite3 "$ddir/db.sqlite" "PRAGMA integrity_check" 2>&1) || true
    [ "$ic" = ok ] || { echo "    $dlabel: sqlite integrity_check: $ic"; DISK_OK=; }
    r=$(sqlite3 "$ddir/db.sqlite" "SELECT min(seq) || ' ' || max(seq) || ' ' || count(*) FROM t" 2>&1) || true
    # shellcheck disable=SC2086 # min, max and count
    set -- $r
    DISK_MAX=${2:-?}
    if [ "${1:-}" != 1 ] || [ "${2:-x}" != "${3:-y}" ]; then
        echo "    $dlabel: rows not gapless: min ${1:-?} max ${2:-?} count ${3:-?}"
        DISK_OK=
    elif [ "$2" -lt "$dreported" ]; then
        echo "    $dlabel: rows 1..$2 on the disk, but $dreported were reported committed before the hibernation"
        DISK_OK=
    fi
    rm -f "$ddir/root.ext4"
}

# span_of LOG: seconds from a log's first line to its last.
span_of() { awk 'match($0, /^\[[0-9.]+\]/) { t = substr($0, 2, RLENGTH - 2); if (!f) f = t } END { printf "%.0f", t - f }' "$1"; }

# --- figures ----------------------------------------------------------------------
# spread FILE COLUMN: "min / median / max" of a column of numbers.
spread() {
    awk -v c="$2" '$c != "?" { print $c }' "$1" | sort -n |
        awk '{ v[NR] = $1 } END { if (!NR) { print "n/a"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.1f / %.1f / %.1f", v[1], m, v[NR] }'
}
