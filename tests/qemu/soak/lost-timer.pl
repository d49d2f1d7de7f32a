#!/usr/bin/perl
# lost-timer.pl LOG PIDFILE: watch one boot of the soak's guest for the
# emulator's lost timer, and end that boot when it hangs on it.
#
# Under QEMU's TCG on a loaded two-CPU host the guest's kernel sometimes
# boots with one vCPU whose timer interrupt never comes: RCU reports
# "rcu_sched kthread timer wakeup didn't happen ... Possible timer handling
# issue on cpu=1" (kernel/rcu/tree_stall.h) every five minutes and the boot
# never gets past the initramfs's /init (seen once in the soak of
# 2026-12-05, in the kernel's own boot, before anything of khib's ran).
# When the kernel has said so before any line of khib's in this boot (so
# not in a kernel khib started: B, R) and then 60 s pass without a line
# that is not the kernel's stall report, this kills QEMU (the disk as the
# hung kernel left it: nothing mounted writable yet) and writes LOG.lost-timer;
# soak.sh boots again.  Exits when QEMU has ended.
use strict;
use warnings;
use Time::HiRes qw(time sleep);

my ($log, $pidfile) = @ARGV;
die "usage: lost-timer.pl LOG PIDFILE\n" unless defined $pidfile;
my $fh;
until (open $fh, '<', $log) { sleep 0.1 }
my ($khib, $lost, $last, $partial) = (0, 0, time, '');
while (1) {
    my $got = <$fh>;
    if (!defined $got) {
        if ($lost && !$khib && time - $last > 60) {
            open(my $p, '<', $pidfile) or exit 0;
            my $pid = <$p>;
            close $p;
            chomp $pid;
            open(my $m, '>', "$log.lost-timer") or die "$log.lost-timer: $!\n";
            printf $m "%.3f\n", time;
            close $m;
            kill 'KILL', $pid;
            exit 0;
        }
        sleep 0.5;
        seek $fh, 0, 1;
        next;
    }
    $partial .= $got;
    next unless $partial =~ /\n\z/;
    my $line = $partial;
    $partial = '';
    exit 0 if $line =~ /^\[[0-9.]+\] qemu exit/;
    # khib's programs' lines ("khib: ...", "khib-init: ...", not the
    # kernel's release, 6.12.117-khib).
    $khib = 1 if $line =~ /\bkhib(?:-[a-z]+)?: /;
    $lost = 1 if $line =~ /timer wakeup didn't happen/;
    # The stall reports repeat, with stack dumps: they are not progress.
    $last = time unless $lost && $line =~ /rcu|Call Trace|<\/?TASK>|\+0x[0-9a-f]+\/0x|task:|NMI/;
}
