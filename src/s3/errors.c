/* errors — the table of errors.def as lookups. */
#include "s3/errors.h"

static const struct {
    const char *code;
    int status;
    const char *message;
} table[] = {
    [S3E_OK] = {"OK", 200, "OK"},
#define X(c, s, m) [S3E_##c] = {#c, s, m},
#include "s3/errors.def"
#undef X
};

const char *s3_err_code(s3_err e) { return e < S3E__COUNT ? table[e].code : "InternalError"; }
int s3_err_status(s3_err e) { return e < S3E__COUNT ? table[e].status : 500; }
const char *s3_err_message(s3_err e) { return e < S3E__COUNT ? table[e].message : "internal error"; }
