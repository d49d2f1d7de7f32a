/* `khib setup-encryption`: once, interactively, make the owner's key pair
 * (docs/encryption.md): the public key into public-key= (/etc/khib/khib.pub),
 * the secret key wrapped with Argon2id of a passphrase into the key header
 * on the target (and optionally a key file). */
#ifndef KHIB_SETUP_ENCRYPTION_H
#define KHIB_SETUP_ENCRYPTION_H

/* argv[0] is "setup-encryption".  Exit status. */
int khib_setup_encryption_main(int argc, char **argv);

#endif
