#define _GNU_SOURCE
#include "encryption.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int encryption_read_public_key(const char *path, uint8_t key[KHIB_KEY_BYTES], char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256] = "";
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    if (!ok || khib_key_parse(line, key) != 0) {
        snprintf(err, errlen, "%s does not hold a public key (64 hex digits)", path);
        return -1;
    }
    return 0;
}

void encryption_probe(const struct settings *s, struct encryption_state *st)
{
    memset(st, 0, sizeof *st);
    uint8_t pk[KHIB_KEY_BYTES];
    st->has_key = encryption_read_public_key(s->public_key, pk, st->key_why, sizeof st->key_why) == 0;
    if (st->has_key)
        khib_key_hex(pk, st->hex);
    if (!s->target[0]) {
        snprintf(st->header_why, sizeof st->header_why, "no target configured");
        return;
    }
    st->has_header = khib_keyheader_read(s->target, KHIB_KEYHDR_OFFSET, &st->kh, st->header_why,
                                         sizeof st->header_why) == KHIB_KH_OK;
    st->match = st->has_key && st->has_header && !memcmp(pk, st->kh.public_key, KHIB_KEY_BYTES);
}

int encryption_decide(const struct settings *s, const struct encryption_state *st, char *why, size_t len)
{
    why[0] = 0;
    if (s->encrypt == ENCRYPT_NO)
        return 0;
    if (st->match)
        return 1;
    if (!st->has_key) {
        if (s->encrypt == ENCRYPT_AUTO)
            return 0;
        snprintf(why, len, "encrypt=yes, but there is no public key (%s): run 'khib setup-encryption'",
                 st->key_why);
        return -1;
    }
    if (!st->has_header)
        snprintf(why, len, "the public key %s is there, but the target's key header is not (%s): run"
                 " 'khib setup-encryption' again", s->public_key, st->header_why);
    else
        snprintf(why, len, "the key header on %s holds another public key than %s: run 'khib setup-encryption'"
                 " again", s->target, s->public_key);
    return s->encrypt == ENCRYPT_YES ? -1 : 0;
}
