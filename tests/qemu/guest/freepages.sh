# shellcheck shell=sh
# The guest of tests/qemu/freepages.sh (sourced by guest.sh): memory in known
# patterns, some held and some freed, then the numbers the host checks the
# memory dump against, then idle until the host stops the machine and takes
# the dump.  Never returns: the host quits QEMU.
#
#   64 MiB held:  khib-testload hold 64 4242 (anonymous, still mapped)
#   96 MiB freed: khib-testload hold 96 777, killed once filled
#   32 MiB of tmpfs written and removed (page cache freed)

# No page moves between the fill and the dump, so that a held page's only
# copy is where its process has it: no huge page collapsing, no proactive
# compaction (mm/compaction.c compaction_proactiveness).
echo never > /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true
echo 0 > /proc/sys/vm/compaction_proactiveness 2>/dev/null || true

mkdir -p /run/fp-keep /run/fp-gone /fp
/test/khib-testload hold 64 4242 /run/fp-keep &
/test/khib-testload hold 96 777 /run/fp-gone &
gone_pid=$!
while [ ! -f /run/fp-keep/ready ] || [ ! -f /run/fp-gone/ready ]; do sleep 0.2; done
kill "$gone_pid"
wait "$gone_pid" 2>/dev/null || true
mount -t tmpfs -o size=64M tmpfs /fp
dd if=/dev/zero of=/fp/blob bs=1M count=32 2>/dev/null
rm -f /fp/blob
sync

echo "KHIBFP: vmcoreinfo $(cat /sys/kernel/vmcoreinfo)"
echo "KHIBFP: release $(uname -r)"
# The per-cpu vmstat differences are folded every second (vm.stat_interval).
sleep 2
echo "KHIBFP: ready"
while :; do
    echo "KHIBFP: memfree $(awk '/^MemFree:/ { print $2 }' /proc/meminfo)"
    sleep 0.5
done
