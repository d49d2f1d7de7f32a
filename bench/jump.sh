#!/bin/sh
# make bench-jump: where the time of the jump into the transient kernel goes
# (a benchmark, not a test; docs/performance.md "The jump").
#
# One guest boot per window size (KHIB_BENCH_JUMP_WINDOWS, default
# "192M 512M"; SIZE:N runs N round trips at that size): the test kernel,
# 1536 MiB (KHIB_BENCH_JUMP_MEM), 2 CPUs, a 192 MiB workload, and
# KHIB_BENCH_JUMP_ROUNDS (default 30) `khib hibernate --test` round trips
# (tests/qemu/guest/bench-jump.sh).  Every serial line carries the host's
# clock (tests/qemu/lib/common.sh); A runs with no_console_suspend (its
# messages reach the console up to machine_kexec()), kexec-tools with
# --console-serial (purgatory's "I'm in purgatory"), the transient kernel B
# with earlyprintk (its first line as soon as setup_arch() parses the command
# line).  Each round is cut into:
#
#   prepare    "BENCH: round N start" to "khib: hibernating": khib's checks
#              and A's kexec load of B, by the host's clock
#   load(A)    the load alone by A's own clock ("of which N s loading"):
#              under a starved TCG guest A's clock can run away (docs)
#   suspend    "khib: hibernating" to A's last line before purgatory (device
#              suspend, CPUs offline: kernel_kexec(), kernel/kexec_core.c)
#   swap       that line to "I'm in purgatory": the rest of machine_kexec()
#              and relocate_kernel's page swap of the window
#              (arch/x86/kernel/relocate_kernel_64.S)
#   early      purgatory to B's first line: purgatory, B's decompressor and
#              its kernel up to the early console
#   boot       B's first line to its /init ("khib-init:")
#   save+back  /init to A's "snapshot saved" line: the test save, its
#              verification, the jump back and A's resume
#
# and the distribution of each over the rounds is printed (min, median, p90,
# max).  The host's view: a sampler reads the QEMU process's
# /proc/PID/stat every 0.2 s (user and system CPU time, minor and major page
# faults); for each round's jump (suspend + swap + early) the QEMU process's
# CPU use (100 % = one host CPU) and page faults are printed, with the host's
# load average, so that a slow jump shows whether the guest was computing
# (CPU time grows with it), the host kernel was working for QEMU (system
# time, page faults) or QEMU was not running at all (neither grows).
#
# KHIB_BENCH_JUMP_STARVE=PCT plays a host too loaded to run the guest: during
# each jump the QEMU process gets PCT % of each 100 ms (SIGSTOP, SIGCONT).
# KHIB_BENCH_JUMP_IO=1 gives the guest an ext4 on a second disk with a
# writer that fsyncs after every record (like the Debian guests' sqlite),
# and has A print each device's suspend time (/sys/power/pm_print_times);
# KHIB_BENCH_JUMP_HOSTIO=1 keeps the host writing back 2 GiB files beside
# the guest (dd conv=fsync in a loop).
# KHIB_BENCH_JUMP_PERF=DIR runs QEMU under `perf record` (bench/perf/: the
# data in DIR) and prints, after each table, QEMU's CPU time in every
# round's swap and its hottest functions there (bench/perf-swap.sh).
#
# Environment: KHIB_BENCH_JUMP_ROUNDS, KHIB_BENCH_JUMP_WINDOWS, KHIB_BENCH_JUMP_STARVE,
# KHIB_BENCH_JUMP_IO, KHIB_BENCH_JUMP_HOSTIO, KHIB_BENCH_JUMP_PERF,
# KHIB_BENCH_JUMP_TIMEOUT (seconds per boot; default 600 per round),
# KHIB_BENCH_JUMP_MEM, KHIB_CACHE.
set -eu
KHIB_TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${KHIB_BENCH_JUMP_ROUNDS:-30}
WINDOWS=${KHIB_BENCH_JUMP_WINDOWS:-192M 512M}
# A round trip takes 10-30 s under TCG at 192 MiB, minutes at 512 MiB on a
# busy host (the load, docs/performance.md): the boot's limit follows.
# shellcheck source=../tests/qemu/lib/common.sh
. "$KHIB_TOP/tests/qemu/lib/common.sh"
# shellcheck disable=SC2034 # the name common.sh puts in log lines
SCENARIO=bench-jump
# KHIB_BENCH_JUMP_MEM: the guest's memory; above 4 GiB the kernel's page
# allocator serves the load from ZONE_NORMAL, above the window ("The jump").
GUEST_MEM=${KHIB_BENCH_JUMP_MEM:-1536M}
export GUEST_MEM

kernel=$(test_kernel 6.12)
initrd=$(guest_initrd "$kernel")
work=$(mktemp -d "${TMPDIR:-/tmp}/khib-bench-jump.XXXXXX")
trap 'rm -rf "$work"' EXIT

# qemu_pid PATTERN: the pid of the QEMU process whose command line holds
# PATTERN, once it has started (up to 10 s); fails when none did.
qemu_pid() {
    n=0
    until pgrep -n -f -- "^(/usr/bin/)?qemu-system-x86_64 .*$1"; do
        [ "$n" -lt 100 ] || return 1
        sleep 0.1
        n=$((n + 1))
    done
}

# sample PATTERN OUT: /proc/PID/stat of the QEMU process whose command line
# holds PATTERN, every 0.2 s, as "host-time utime stime minflt majflt
# load1" lines, until it exits.
sample() {
    pid=$(qemu_pid "$1") || return 0
    perl -MTime::HiRes=time,sleep -e '
        my ($pid, $hz) = @ARGV;
        $| = 1;
        while (open(my $f, "<", "/proc/$pid/stat")) {
            my $s = <$f>;
            close $f;
            open(my $l, "<", "/proc/loadavg");
            my ($load) = split / /, <$l>;
            close $l;
            $s =~ s/^.*\) //;
            my @f = split / /, $s;
            # fields after the name: 8 minflt, 10 majflt, 12 utime, 13 stime
            printf "%.3f %.2f %.2f %d %d %s\n", time, $f[11] / $hz, $f[12] / $hz, $f[7], $f[9], $load;
            sleep 0.2;
        }' "$pid" "$(getconf CLK_TCK)" > "$2"
}

# starve PATTERN LOG PCT: starve the QEMU process (qemu_pid PATTERN)
# during every jump, from khib's last line to the transient kernel's first,
# as a host too loaded to run it would: SIGSTOP, then SIGCONT for PCT % of
# each 100 ms.  KHIB_BENCH_JUMP_STARVE=PCT (docs/performance.md: what a
# starved guest's jump looks like).
starve() {
    pid=$(qemu_pid "$1") || return 0
    perl -MTime::HiRes=sleep -e '
        my ($pid, $log, $pct) = @ARGV;
        open(my $l, "<", $log) or die "starve: $log: $!\n";
        my ($on, $part) = (0, "");
        $SIG{TERM} = sub { kill "CONT", $pid; exit 0 };
        while (kill 0, $pid) {
            while (defined(my $c = <$l>)) {
                $part .= $c;
                next unless $part =~ /\n$/;
                $on = 1 if $part =~ /of which [0-9.]+ s loading the transient kernel/;
                $on = 0 if $on && $part =~ /Linux version/;
                $part = "";
            }
            seek($l, 0, 1);
            if ($on) {
                kill "STOP", $pid;
                sleep(0.1 * (100 - $pct) / 100);
                kill "CONT", $pid;
                sleep(0.1 * $pct / 100);
            } else {
                sleep 0.05;
            }
        }' "$pid" "$2" "$3"
}

PERF=${KHIB_BENCH_JUMP_PERF:-}
if [ -n "$PERF" ]; then
    mkdir -p "$PERF"
    KHIB_PERF_DIR=$(cd "$PERF" && pwd)
    export KHIB_PERF_DIR
    PATH=$KHIB_TOP/bench/perf:$PATH
fi
for spec in $WINDOWS; do
    w=${spec%%:*} n=$ROUNDS
    [ "$w" = "$spec" ] || n=${spec#*:}
    # shellcheck disable=SC2034 # read by run_guest (common.sh)
    QEMU_TIMEOUT=${KHIB_BENCH_JUMP_TIMEOUT:-$((600 + n * 600))}
    truncate -s 0 "$work/target-$w.img"
    truncate -s 1G "$work/target-$w.img"
    log "window $w: $n round trips"
    set -- -drive "file=$work/target-$w.img,if=virtio,format=raw"
    io=
    if [ -n "${KHIB_BENCH_JUMP_IO:-}" ]; then
        # The guest writes to a file system of its own across the jumps.
        truncate -s 0 "$work/data.img"
        truncate -s 256M "$work/data.img"
        mkfs.ext4 -q -F "$work/data.img"
        set -- "$@" -drive "file=$work/data.img,if=virtio,format=raw"
        io=" khibtest.io=1"
    fi
    hostio=
    if [ -n "${KHIB_BENCH_JUMP_HOSTIO:-}" ]; then
        # The host writes back gigabytes beside the guest, as a host does
        # whose other guests save images and build disks.
        (while :; do dd if=/dev/zero of="$work/hostio" bs=1M count=2048 conv=fsync status=none || exit; done) &
        hostio=$!
    fi
    run_guest "$work/jump-$w.log" "$kernel" "$initrd" \
        "no_console_suspend khibtest.scenario=bench-jump khibtest.rounds=$n khibtest.window=$w$io" "$@" &
    guest=$!
    sample "$work/target-$w.img" "$work/stat-$w" &
    sampler=$!
    starver=
    if [ -n "${KHIB_BENCH_JUMP_STARVE:-}" ]; then
        log "window $w: QEMU starved to $KHIB_BENCH_JUMP_STARVE % of a CPU during each jump"
        starve "$work/target-$w.img" "$work/jump-$w.log" "$KHIB_BENCH_JUMP_STARVE" &
        starver=$!
    fi
    wait "$guest" || true
    wait "$sampler" || true
    [ -z "$starver" ] || wait "$starver" || true
    [ -z "$hostio" ] || { kill "$hostio" 2> /dev/null; wait "$hostio" 2> /dev/null || true; rm -f "$work/hostio"; }
    collect "$work/jump-$w.log" > "$work/results-$w"
    if grep -q '^FAIL' "$work/results-$w" || ! grep -q '^PASS' "$work/results-$w"; then
        echo "bench-jump: window $w: the guest did not finish every round:"
        cat "$work/results-$w"
        show_log "$work/jump-$w.log"
    fi
done

echo
echo "QEMU TCG, $GUEST_MEM, 2 CPUs, a 192 MiB workload${KHIB_BENCH_JUMP_IO:+, an fsync writer on ext4}; host: $(nproc) CPUs${KHIB_BENCH_JUMP_STARVE:+; QEMU starved to $KHIB_BENCH_JUMP_STARVE % of a CPU during each jump}${KHIB_BENCH_JUMP_HOSTIO:+; the host writing back 2 GiB files}"
for spec in $WINDOWS; do
    w=${spec%%:*}
    perl - "$work/jump-$w.log" "$work/stat-$w" "$w" <<'EOF'
use strict;
use warnings;
my ($logf, $statf, $w) = @ARGV;
# The host's samples: time, cpu (user + system), system, minflt, majflt, load.
my @st;
if (open(my $s, "<", $statf)) {
    while (<$s>) { my @f = split; push @st, [$f[0], $f[1] + $f[2], $f[2], $f[3], $f[4], $f[5]]; }
}
sub sample_at {    # the last sample at or before time t
    my $t = shift;
    my $best;
    for my $x (@st) { last if $x->[0] > $t; $best = $x; }
    return $best // $st[0];
}
my (@rounds, $r, $prev_t);
open(my $l, "<", $logf) or die;
while (<$l>) {
    my ($t) = /^\[([0-9.]+)\]/ or next;
    if (/BENCH: round (\d+) start/) { $r = { n => $1, start => $t }; push @rounds, $r; }
    elsif ($r) {
        # khib's line may come cut by the kernel's own lines (both write
        # to the console while A freezes): its tail alone marks the jump.
        if (/of which ([0-9.]+) s loading the transient kernel/ && !$r->{hib}) { $r->{hib} = $t; $r->{load} = $1; }
        elsif (/I'm in purgatory/ && !$r->{purg}) { $r->{purg} = $t; $r->{alast} = $prev_t; }
        elsif ($r->{purg} && !$r->{b1} && /Linux version/) { $r->{b1} = $t; }
        elsif ($r->{b1} && !$r->{init} && /khib-init:/) { $r->{init} = $t; }
        elsif (/khib: snapshot saved/ && !$r->{back}) { $r->{back} = $t; }
        elsif (/BENCH: round \d+ end/) { $r->{end} = $t; }
    }
    $prev_t = $t;
}
my @names = ('prepare', 'load(A)', qw(suspend swap early boot save+back jump total));
my %v;
my @complete;
for my $x (@rounds) {
    next unless $x->{hib} && $x->{purg} && $x->{b1} && $x->{init} && $x->{back} && $x->{end};
    push @complete, $x;
    $x->{d} = {
        prepare => $x->{hib} - $x->{start},
        'load(A)' => $x->{load},
        suspend => $x->{alast} - $x->{hib},
        swap => $x->{purg} - $x->{alast},
        early => $x->{b1} - $x->{purg},
        boot => $x->{init} - $x->{b1},
        'save+back' => $x->{back} - $x->{init},
        jump => $x->{b1} - $x->{hib},
        total => $x->{end} - $x->{start},
    };
    push @{ $v{$_} }, $x->{d}{$_} for @names;
}
printf "\nwindow %s: %d of %d rounds complete; seconds\n", $w, scalar @complete, scalar @rounds;
printf "%-10s %8s %8s %8s %8s\n", "phase", "min", "median", "p90", "max";
for my $n (@names) {
    my @s = sort { $a <=> $b } @{ $v{$n} // [] };
    next unless @s;
    my $q = sub { $s[ int($_[0] * $#s + 0.5) ] };
    printf "%-10s %8.2f %8.2f %8.2f %8.2f\n", $n, $s[0], $q->(0.5), $q->(0.9), $s[-1];
}
if (@st) {
    print "the host's view of each round's jump (suspend + swap + early):\n";
    printf "%6s %8s %9s %9s %9s %9s %6s %9s %9s %8s %10s\n", "round", "jump s", "qemu cpu%", "sys cpu%", "minflt", "majflt",
        "load", "prepare s", "load(A) s", "swap s", "swap cpu s";
    for my $x (@complete) {
        my ($a, $b) = (sample_at($x->{hib}), sample_at($x->{b1}));
        my $dt = $b->[0] - $a->[0];
        $dt = 1e-9 if $dt <= 0;
        # QEMU's CPU time over the swap alone (0.2 s samples: coarse below 1 s).
        my ($sa, $sb) = (sample_at($x->{alast}), sample_at($x->{purg}));
        printf "%6d %8.2f %9.0f %9.0f %9d %9d %6s %9.1f %9.1f %8.2f %10.2f\n", $x->{n}, $x->{d}{jump},
            100 * ($b->[1] - $a->[1]) / $dt, 100 * ($b->[2] - $a->[2]) / $dt, $b->[3] - $a->[3], $b->[4] - $a->[4],
            $b->[5], $x->{d}{prepare}, $x->{d}{'load(A)'}, $x->{d}{swap}, $sb->[1] - $sa->[1];
    }
}
my @j = sort { $a <=> $b } @{ $v{jump} // [] };
my @p = sort { $a <=> $b } @{ $v{prepare} // [] };
printf "jump_%s_p90=%.2f jump_%s_max=%.2f prepare_%s_p90=%.2f prepare_%s_max=%.2f\n", $w, $j[ int(0.9 * $#j + 0.5) ],
    $w, $j[-1], $w, $p[ int(0.9 * $#p + 0.5) ], $w, $p[-1] if @j;
EOF
    if [ -n "$PERF" ]; then
        echo
        echo "window $w: QEMU's profile over the swaps (bench/perf-swap.sh):"
        sh "$KHIB_TOP/bench/perf-swap.sh" "$KHIB_PERF_DIR" "$work/jump-$w.log"
    fi
done
