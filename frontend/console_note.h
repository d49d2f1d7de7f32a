/* A line for whoever watches the machine's console.  Under systemd, khib's
 * output goes to the journal, and journald is frozen with every other task
 * at the jump, before it forwards the last lines: the one that says the
 * system is going away, and the one that says it is back, would reach the
 * console late or never.  The kernel log reaches it at once. */
#ifndef KHIB_CONSOLE_NOTE_H
#define KHIB_CONSOLE_NOTE_H

/* Print LINE (no newline) on stdout, and, when stdout is not a terminal,
 * also to /dev/kmsg at priority notice (which the console shows unless
 * booted with `quiet`).  A kernel log that cannot be written is ignored:
 * the line is on stdout anyway. */
void console_note(const char *line);

#endif
