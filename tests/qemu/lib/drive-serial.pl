#!/usr/bin/perl
# drive-serial.pl LOG TIMEOUT [REGEX ANSWER]... -- COMMAND...: run COMMAND (a
# QEMU with -serial stdio) and talk to its serial console like a user at the
# keyboard: wait for the first REGEX in the output, type its ANSWER, wait for
# the next, and so on.  ANSWER may name the REGEX's first group as \1 and the
# keys \n (Enter) and \r.  The output is appended to LOG, each line prefixed
# with the host's clock like run_guest's ("[1795391156.087] text"), each
# answer logged as "[time] drive-serial: typed ...".  Terminal escapes are
# ignored when matching (GRUB draws its menu with them).  When an answer's
# REGEX has not shown after TIMEOUT seconds, COMMAND is killed and the log
# says so.  Exits with COMMAND's status (124 when killed).
use strict;
use warnings;
use IO::Select;
use IPC::Open2;
use POSIX ();
use Time::HiRes qw(time);

my ($log, $timeout) = splice @ARGV, 0, 2;
my @steps;
while (@ARGV && $ARGV[0] ne '--') {
    my ($re, $answer) = splice @ARGV, 0, 2;
    push @steps, [qr/$re/, $answer];
}
shift @ARGV;
open my $out, '>>', $log or die "drive-serial: $log: $!\n";
$out->autoflush(1);
sub stamp { printf $out "[%.3f] %s\n", time, $_[0] }

my $pid = open2(my $from, my $to, @ARGV);
$to->autoflush(1);
my $sel = IO::Select->new($from);
my ($line, $seen) = ('', '');   # the log's unfinished line; output not yet matched
my $since = time;
my $killed = 0;
while (1) {
    if (@steps && $seen =~ $steps[0][0]) {
        my $group = defined $1 ? $1 : '';
        $seen = substr $seen, $+[0];
        my $answer = $steps[0][1];
        $answer =~ s/\\1/$group/g;
        (my $shown = $answer) =~ s/\n/\\n/g;
        $shown =~ s/\r/\\r/g;
        $line eq '' or do { stamp($line); $line = '' };
        stamp("drive-serial: typed '$shown' after /$steps[0][0]/");
        $answer =~ s/\\n/\n/g;
        $answer =~ s/\\r/\r/g;
        print $to $answer;
        shift @steps;
        $since = time;
        next;
    }
    if (@steps && time - $since > $timeout) {
        stamp("drive-serial: no /$steps[0][0]/ after $timeout s: killing the guest");
        kill 'KILL', $pid;
        $killed = 1;
        last;
    }
    next unless $sel->can_read(0.2);
    my $n = sysread $from, my $buf, 65536;
    last unless $n;
    $buf =~ s/\r//g;
    $line .= $buf;
    while ($line =~ s/^([^\n]*)\n//) { stamp($1) }
    (my $plain = $buf) =~ s/\e\[[0-9;?=]*[A-Za-z]//g;
    $seen .= $plain;
    $seen = substr $seen, -65536 if length $seen > 131072;
}
# The rest of the output, until COMMAND ends.
while (!$killed && defined(my $n = sysread $from, my $buf, 65536)) {
    last unless $n;
    $buf =~ s/\r//g;
    $line .= $buf;
    while ($line =~ s/^([^\n]*)\n//) { stamp($1) }
}
stamp($line) if $line ne '';
waitpid $pid, 0;
exit($killed ? 124 : POSIX::WIFEXITED($?) ? POSIX::WEXITSTATUS($?) : 128 + ($? & 127));
