/* main.c - entry point: hands argv to the command dispatcher in cli.c. */
#include <malloc.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    /* A fixed mmap threshold: blocks of 1 MiB and more (pages, bulk bodies, big documents)
     * are mapped on their own and go back to the system when freed. glibc otherwise raises
     * the threshold after the first such free, serves later big blocks from the heap and
     * keeps their pages: with 8 MB documents the process then grew past memory_limit_mb
     * although the budget held (measured: 135.7 MB peak for a 128 MB budget). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    return cli_main(argc, argv);
}
