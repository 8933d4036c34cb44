/*
 * json_arena.c - one memory arena per search page for jansson's allocations.
 *
 * Parsing a page of hits builds a jansson tree per hit: some 30 small allocations each,
 * freed one by one when the hit's writes are done. With malloc that was the biggest cost
 * of E->C (malloc, free and glibc's consolidation of the freed chunks, about a third of
 * casselastic's CPU). Here every allocation jansson makes while a page is parsed is cut
 * from the page's arena (64 KiB blocks, a pointer bump), a free of it only counts down,
 * and the blocks go back to a pool when the last value of the page is freed.
 *
 * jansson has one pair of allocation hooks for the process, so they are installed once
 * (es_client_new, or the first page) and serve everything: outside a page parse (any other thread, or no
 * arena open) they are plain malloc and free, so strings json_dumps returns may still be
 * given to free(). A free tells an arena allocation by its address: arena blocks are cut
 * from one reserved address range. Values of a page may be freed on any thread (the pass
 * frees what the fetch thread parsed): the count is atomic. Allocations over 4 KiB (a
 * large document's strings) go to malloc, so one big document does not pin a block.
 *
 * Sanitizer builds keep plain malloc (the hooks are not installed), so ASan still sees
 * every jansson allocation.
 */
#include "es/es_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define ARENA_OFF 1
#endif
#endif

#define BLOCK_SIZE ((size_t)64 * 1024)
#define REGION_SIZE ((size_t)4 << 30)  /* address space only; blocks are touched when used */
#define BIG_ALLOC 4096                 /* larger: plain malloc */
#define POOL_KEEP 256                  /* free blocks kept touched (16 MiB); more are given back */
#define ALIGN 16

struct es_json_arena {
    atomic_size_t refs;  /* live allocations, + 1 while the arena is open */
    char *cur, *end;     /* the free part of the current block */
    struct block *blocks;
};

/* The head of a block: its arena, and the chain of the arena's blocks. */
struct block {
    struct es_json_arena *arena;
    struct block *next;
    char pad[ALIGN - (2 * sizeof(void *)) % ALIGN];
};

static char *region;             /* REGION_SIZE bytes, or NULL: no arenas */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t region_used;       /* blocks cut from the region so far (under pool_mu) */
static struct block *pool;       /* free blocks (under pool_mu) */
static size_t pool_len;
static _Thread_local struct es_json_arena *current;

static bool in_region(const void *p)
{
    return region && (const char *)p >= region && (const char *)p < region + REGION_SIZE;
}

static void arena_release(struct es_json_arena *a)
{
    pthread_mutex_lock(&pool_mu);
    for (struct block *b = a->blocks, *next; b; b = next) {
        next = b->next;
        if (pool_len >= POOL_KEEP) {
            madvise(b, BLOCK_SIZE, MADV_DONTNEED); /* the memory goes back; the range stays ours */
        }
        b->next = pool;
        pool = b;
        pool_len++;
    }
    pthread_mutex_unlock(&pool_mu);
    free(a);
}

static struct block *block_get(void)
{
    pthread_mutex_lock(&pool_mu);
    struct block *b = pool;
    if (b) {
        pool = b->next;
        pool_len--;
    } else if (region_used + BLOCK_SIZE <= REGION_SIZE) {
        b = (struct block *)(region + region_used);
        region_used += BLOCK_SIZE;
    }
    pthread_mutex_unlock(&pool_mu);
    return b;
}

static void *hook_malloc(size_t size)
{
    struct es_json_arena *a = current;
    if (!a || size > BIG_ALLOC)
        return malloc(size);
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if ((size_t)(a->end - a->cur) < size) {
        struct block *b = block_get();
        if (!b)
            return malloc(size);
        b->arena = a;
        b->next = a->blocks;
        a->blocks = b;
        a->cur = (char *)(b + 1);
        a->end = (char *)b + BLOCK_SIZE;
    }
    void *p = a->cur;
    a->cur += size;
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return p;
}

static void hook_free(void *p)
{
    if (!in_region(p)) {
        free(p);
        return;
    }
    size_t off = (size_t)((char *)p - region) & ~(BLOCK_SIZE - 1);
    struct es_json_arena *a = ((struct block *)(region + off))->arena;
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        arena_release(a);
}

static void install(void)
{
#ifndef ARENA_OFF
    void *r = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return; /* no arenas: plain malloc */
    region = r;
    json_set_alloc_funcs(hook_malloc, hook_free);
#else
    (void)hook_malloc, (void)hook_free;
#endif
}

void es_json_arena_init(void)
{
    pthread_once(&once, install);
}

es_json_arena *es_json_arena_open(void)
{
    es_json_arena_init();
    if (!region || current)
        return NULL;
    es_json_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    atomic_init(&a->refs, 1);
    current = a;
    return a;
}

void es_json_arena_close(es_json_arena *a)
{
    if (!a)
        return;
    current = NULL;
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        arena_release(a);
}
