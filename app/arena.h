#ifndef MEDIAGATE_ARENA_H
#define MEDIAGATE_ARENA_H
#include <stddef.h>

/* A bump allocator for one request. Everything allocated from it is freed
 * at once by arena_reset(); nothing is freed one by one. Not thread-safe:
 * each worker thread owns its own arena. */
typedef struct arena_chunk arena_chunk;
typedef struct arena {
    arena_chunk *head;
    size_t chunk_size;
} arena;

void arena_init(arena *a, size_t chunk_size);
/* Returns zeroed memory aligned for any type, or NULL on out-of-memory. */
void *arena_alloc(arena *a, size_t n);
/* Copies n bytes and appends a NUL. Returns NULL on out-of-memory. */
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_strdup(arena *a, const char *s);
/* Frees every chunk but the first, and makes the first empty again. */
void arena_reset(arena *a);
void arena_free(arena *a);

#endif
