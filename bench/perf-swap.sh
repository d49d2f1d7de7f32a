#!/bin/sh
# bench/perf-swap.sh DIR LOG...: where QEMU's time goes during the page swap
# of each jump into the transient kernel (docs/performance.md "The jump").
# DIR holds the perf data of bench/perf/qemu-system-x86_64; each LOG is a
# serial log of run_guest (every line stamped with the host's clock) of a
# guest whose jumps carry the marks: A's console on through its suspend and
# kexec-tools' "I'm in purgatory" (bench/jump.sh, tests/qemu/distro.sh).
# The swap runs from A's last line before purgatory's to purgatory's
# (relocate_kernel_64.S, swap_pages).  Prints each swap's length and the CPU
# time QEMU spent in it (one sample a millisecond of CPU on one thread), then
# QEMU's hottest functions over all the swaps.
set -eu
[ $# -ge 2 ] || { echo "usage: bench/perf-swap.sh DIR LOG..." >&2; exit 2; }
dir=$1
shift
windows=$(mktemp)
trap 'rm -f "$windows"' EXIT
perl -ne '
    my ($t) = /^\[([0-9.]+)\]/ or next;
    if (/I.m in purgatory/ && defined $prev) { printf "%s %.3f %.3f\n", $ARGV, $prev, $t; }
    $prev = $t;
    undef $prev if eof;' "$@" > "$windows"
[ -s "$windows" ] || { echo "bench/perf-swap.sh: no \"I'm in purgatory\" line in $*" >&2; exit 1; }
for data in "$dir"/perf-*.data; do
    perf script -i "$data" -F time,ip,sym,dso 2> /dev/null
done | perl -e '
    open(my $w, "<", $ARGV[0]) or die "$ARGV[0]: $!\n";
    my @win = map { [split] } <$w>;
    my (%n, @per, $all);
    while (<STDIN>) {
        my ($t, $rest) = /^\s*([0-9]+\.[0-9]+):\s+\S+\s+(.*)$/ or next;
        for my $i (0 .. $#win) {
            next unless $t >= $win[$i][1] && $t <= $win[$i][2];
            $per[$i]++;
            $rest =~ s/\+0x[0-9a-f]+//;
            $rest =~ s/^\[unknown\] \(\/tmp\/perf-\d+\.map\)$/[translated guest code]/;
            $n{$rest}++;
            $all++;
            last;
        }
    }
    printf "%-50s %8s %12s\n", "swap (serial log)", "swap s", "QEMU CPU s";
    for my $i (0 .. $#win) {
        printf "%-50s %8.2f %12.2f\n", $win[$i][0], $win[$i][2] - $win[$i][1], ($per[$i] // 0) / 999;
    }
    $all //= 0;
    printf "QEMU over the %d swaps: %.2f CPU seconds; hottest functions:\n", scalar @win, $all / 999;
    my $k = 0;
    for my $f (sort { $n{$b} <=> $n{$a} } keys %n) {
        last if ++$k > 15;
        printf "  %5.1f %%  %s\n", 100 * $n{$f} / $all, $f;
    }' "$windows"
