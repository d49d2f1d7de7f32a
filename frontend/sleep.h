/* `khib sleep VERB`: what systemd-hibernate.service runs instead of
 * systemd-sleep (systemd/systemd-hibernate.service.d/khib.conf). */
#ifndef KHIB_SLEEP_H
#define KHIB_SLEEP_H

/* argv[0] is "sleep".  Returns the exit status. */
int khib_sleep_main(int argc, char **argv);

#endif
