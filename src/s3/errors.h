/* errors — S3/WOS error codes as values, and the one function that writes them.
 *
 * Handlers return an s3_err; only s3_error_respond() turns one into HTTP (status, XML body with
 * Code, Message, Resource, RequestId, HostId). The table is errors.def. */
#ifndef WOSD_S3_ERRORS_H
#define WOSD_S3_ERRORS_H

typedef enum {
    S3E_OK = 0,
#define X(code, status, msg) S3E_##code,
#include "s3/errors.def"
#undef X
    S3E__COUNT
} s3_err;

const char *s3_err_code(s3_err e);
int s3_err_status(s3_err e);
const char *s3_err_message(s3_err e);

#endif
