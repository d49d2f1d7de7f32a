/* logind's CanHibernate and Hibernate follow `khib check`.
 *
 * logind re-reads the sleep configuration (sleep.conf and its drop-ins) at
 * every CanHibernate and Hibernate call (can_sleep() in systemd 252,
 * sleep_supported_full() in 257, src/shared/sleep-config.c), and answers
 * "na" (252) or "no" (257) when AllowHibernation=no.  khib ships
 * /usr/lib/systemd/sleep.conf.d/50-khib.conf with AllowHibernation=no (so
 * that an unchecked system says no); `khib check --logind` writes a file
 * of the same name to /run/systemd/sleep.conf.d/, which replaces it: without
 * AllowHibernation= when every check passed (the default, yes, or what the
 * administrator set in sleep.conf then holds), with AllowHibernation=no
 * when one failed.  Both refuse suspend-then-hibernate and hybrid-sleep.
 * docs/systemd.md has the whole design and its limits. */
#ifndef KHIB_LOGIND_H
#define KHIB_LOGIND_H

#include <stddef.h>

#define LOGIND_DROPIN "/run/systemd/sleep.conf.d/50-khib.conf"

/* Write the drop-in for a check with `failures` failures (atomically:
 * a temporary file renamed over it).  The path is LOGIND_DROPIN, or
 * $KHIB_SLEEP_CONF for the tests.  Returns 0, or -1 with err. */
int logind_verdict_write(int failures, char *err, size_t errlen);

#endif
