/* Messages for the journal: when stderr is the journal's stream
 * ($JOURNAL_STREAM names its device and inode, systemd.exec(5)), each line
 * carries its syslog priority as a "<N>" prefix (sd-daemon(3)), so that
 * `journalctl -p err` finds the errors; elsewhere the line is as it is. */
#ifndef KHIB_SLOG_H
#define KHIB_SLOG_H

#define LOG_ERR 3
#define LOG_WARNING 4
#define LOG_NOTICE 5
#define LOG_INFO 6

void slog(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
