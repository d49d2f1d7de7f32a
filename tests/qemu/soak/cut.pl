#!/usr/bin/perl
# cut.pl LOG PIDFILE ANCHOR MARKER DELAY: cut a guest's power (SIGKILL to
# QEMU, whose pid is in PIDFILE) DELAY seconds after the serial line that
# matches the Perl regular expression MARKER, counted from that line's own
# host timestamp ("[1795391156.087] text", tests/qemu/lib/common.sh
# run_guest), not from when this program saw it.  With a non-empty ANCHOR
# only a MARKER line after the first line matching ANCHOR counts (a guest's
# log holds several "Linux version" lines).
#
# It follows LOG as run_guest writes it, so it reacts within a few
# milliseconds (tests/qemu/lib/common.sh's run_guest_killed polls with grep
# every 0.1 s, too coarse for the power-off).  Prints "MARKER_TIME CUT_TIME"
# and exits 0 when it cut the power; exits 1 when QEMU ended first (the log's
# "qemu exit" line, or the pid gone at the moment of the cut).
use strict;
use warnings;
use Time::HiRes qw(time sleep);

my ($log, $pidfile, $anchor, $marker, $delay) = @ARGV;
die "usage: cut.pl LOG PIDFILE ANCHOR MARKER DELAY\n" unless defined $delay;
my $fh;
until (open $fh, '<', $log) { sleep 0.02 }
my $armed = $anchor eq '' ? 1 : 0;
my $partial = '';
while (1) {
    my $got = <$fh>;
    if (!defined $got) {
        # At the end of what was written so far: wait for more.
        sleep 0.01;
        seek $fh, 0, 1;
        next;
    }
    # A line may be read while it is being written: keep the start.
    $partial .= $got;
    next unless $partial =~ /\n\z/;
    my $line = $partial;
    $partial = '';
    exit 1 if $line =~ /^\[[0-9.]+\] qemu exit/;
    if (!$armed) {
        $armed = 1 if $line =~ /$anchor/;
        next;
    }
    next unless $line =~ /$marker/;
    my ($t) = $line =~ /^\[([0-9.]+)\]/;
    $t = time unless defined $t;
    my $wait = $t + $delay - time;
    sleep $wait if $wait > 0;
    open my $p, '<', $pidfile or exit 1;
    my $pid = <$p>;
    close $p;
    exit 1 unless defined $pid && $pid =~ /^\s*(\d+)/;
    my $cut = time;
    exit 1 unless kill 'KILL', $1;
    printf "%.3f %.3f\n", $t, $cut;
    exit 0;
}
