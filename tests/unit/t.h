/* A minimal test harness: CHECK counts, t_done() prints "N passed, N failed". */
#ifndef KHIB_T_H
#define KHIB_T_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            t_pass++;                                                      \
        } else {                                                           \
            t_fail++;                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

/* err contains want */
#define CHECK_ERR(rc_ok, err, want) \
    CHECK((rc_ok) && strstr((err), (want)) != NULL, "expected an error with '%s', got '%s'", (want), (err))

static inline int t_done(void)
{
    printf("%d passed, %d failed\n", t_pass, t_fail);
    return t_fail != 0;
}

#endif
