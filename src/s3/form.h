/* form — a streaming multipart/form-data parser (browser POST uploads).
 *
 * Fed the body in pieces of any size; calls back at each part's start (with its field name,
 * file name and content type), for its data, and at its end. Memory is bounded: a part's
 * headers (8 KiB at most) and a window of 64 KiB are all it holds, whatever the file size. */
#ifndef WOSD_S3_FORM_H
#define WOSD_S3_FORM_H

#include <stddef.h>

#include "util/arena.h"

typedef struct form_parser form_parser;

typedef struct form_callbacks {
    /* Return 0 to go on; anything else stops the parse and is returned by form_feed. */
    int (*part_begin)(void *cls, const char *name, const char *filename, const char *content_type);
    int (*part_data)(void *cls, const char *data, size_t n);
    int (*part_end)(void *cls);
} form_callbacks;

/* NULL unless content_type is multipart/form-data with a usable boundary. */
form_parser *form_new(arena *a, const char *content_type);
/* 0, FORM_MALFORMED, or a callback's non-zero return. */
enum { FORM_MALFORMED = -1 };
int form_feed(form_parser *f, const char *data, size_t n, const form_callbacks *cb, void *cls);
/* 0 when the closing boundary was seen, FORM_MALFORMED otherwise. */
int form_finish(form_parser *f);

#endif
