#!/bin/sh
# The sqlite workload of tests/qemu/distro.sh: one sequenced row per
# commit (WAL, synchronous=FULL) into DB, 20 a second, until stopped.
set -eu
db=${1:?usage: sqlite-writer.sh DB}
sqlite3 "$db" "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(seq INTEGER PRIMARY KEY, at TEXT NOT NULL);" > /dev/null
n=$(sqlite3 "$db" "SELECT coalesce(max(seq), 0) FROM t")
{
    echo "PRAGMA synchronous=FULL;"
    while :; do
        n=$((n + 1))
        echo "INSERT INTO t VALUES($n, strftime('%Y-%m-%d %H:%M:%f', 'now'));"
        sleep 0.05
    done
} | exec sqlite3 "$db"
