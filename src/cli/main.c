/* main.c - entry point: hands argv to the command dispatcher in cli.c. */
#include "cli/cli.h"

int main(int argc, char **argv) { return cli_main(argc, argv); }
