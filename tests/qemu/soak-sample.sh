#!/bin/sh
# The soak's sample in make check (docs/reliability.md): six power cuts of
# tests/qemu/soak.sh --sample in the Debian 12 guest, one in the superblock
# commit, one in the CONSUMED write, one in the restore (fault points there:
# they fall in their step on any host) and three at seeded random places and
# moments.  The seed is fixed so that every run cuts at the same places;
# KHIB_SOAK_SEED=N draws another sample (printed, as make soak prints its).
set -eu
KHIB_SOAK_SEED=${KHIB_SOAK_SEED:-3}
export KHIB_SOAK_SEED
exec "$(dirname "$0")/soak.sh" --sample
