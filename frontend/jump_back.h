#ifndef KHIB_JUMP_BACK_H
#define KHIB_JUMP_BACK_H
int khib_jump_back_main(int argc, char **argv);
#endif
