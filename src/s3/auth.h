/* auth — who sent this request, proven by which signature.
 *
 * auth_verify() recognises every scheme of WOS-API.md §2 and checks it:
 *   V4 header   Authorization: AWS4-HMAC-SHA256 …  |  WOS-HMAC-SHA256 …
 *   V4 query    X-Amz-Algorithm/Credential/Date/Expires/SignedHeaders/Signature  (or X-Wos-*)
 *   V2 header   Authorization: AWS AK:sig  |  WOS AK:sig
 *   V2 query    AWSAccessKeyId (or WOSAccessKeyId) + Expires + Signature
 *   anonymous   none of the above
 * It checks the date and clock skew (15 min), expiry of presigned URLs, the credential scope
 * (date, region, service), the access key (through the caller's lookup), and the signature in
 * constant time. It cannot check the body: it says in auth_result.payload what the body must
 * satisfy (a SHA-256, or aws-chunked framing with chunk signatures), and the caller checks that
 * as the body streams.
 *
 * Dialect: AWS4-HMAC-SHA256 (header or query) and "AWS AK:sig" are the AWS dialect; everything
 * else (WOS-HMAC-SHA256, X-Wos-*, "WOS AK:sig", V2 query presigning, anonymous) is the WOS
 * dialect (DESIGN.md, "Where WOS and S3 disagree"). */
#ifndef WOSD_S3_AUTH_H
#define WOSD_S3_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "s3/errors.h"
#include "server/http.h"
#include "util/arena.h"

typedef enum {
    AUTH_ANON = 0,
    AUTH_V4_HEADER,
    AUTH_V4_QUERY,
    AUTH_V2_HEADER,
    AUTH_V2_QUERY,
} auth_kind;

typedef enum { DIALECT_WOS = 0, DIALECT_AWS } s3_dialect;

/* What the body must satisfy, from x-amz-content-sha256 / x-wos-content-sha256. */
typedef enum {
    PAYLOAD_UNSIGNED = 0,          /* UNSIGNED-PAYLOAD, V2, presigned, or no header */
    PAYLOAD_SHA256,                /* body must hash to auth_result.payload_sha256 */
    PAYLOAD_STREAMING_SIGNED,      /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    PAYLOAD_STREAMING_SIGNED_TRAILER,   /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    PAYLOAD_STREAMING_UNSIGNED_TRAILER, /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
} auth_payload;

typedef struct auth_result {
    auth_kind kind;
    s3_dialect dialect;
    char access_key[129];
    auth_payload payload;
    unsigned char payload_sha256[32];
    /* For the streaming payloads: what chunk signatures chain from (V4 only). */
    unsigned char signing_key[32];
    char seed_signature[65];   /* lower-case hex */
    char timestamp[17];        /* yyyymmddThhmmssZ */
    char scope[160];           /* date/region/service/terminator */
    bool wos_flavor;           /* WOS-HMAC-SHA256: chunk string-to-sign uses WOS names */
} auth_result;

/* Finds the secret of an access key. Returns 0 and fills secret (NUL-terminated), or -1 when
 * the key is unknown (or disabled). */
typedef int (*auth_lookup_fn)(void *cls, const char *access_key, char *secret, size_t cap);

typedef struct auth_ctx {
    const char *region;     /* the server's region; a V4 credential must name it */
    int64_t now;            /* seconds since the epoch */
    /* SigV2 canonical resource: "/bucket" is prefixed to the raw path when the bucket came from
     * the Host header (virtual-host style); NULL for path style. */
    const char *vhost_bucket;
    auth_lookup_fn lookup;
    void *lookup_cls;
} auth_ctx;

/* Returns S3E_OK and fills *out, or an error. *message, when set (arena memory), replaces the
 * table's default message (e.g. "Request has expired", the region message of
 * AuthorizationHeaderMalformed). out->dialect is set even on failure, so the error is answered
 * in the request's dialect. */
s3_err auth_verify(const http_req *r, const auth_ctx *c, arena *a, auth_result *out,
                   const char **message);

/* --- building blocks, public for tests and for the chunk-signature checker --------------- */

/* SigV4 signing key: flavor_wos selects "WOS"+secret / "wos" / "wos_request", else
 * "AWS4"+secret / service / "aws4_request". service is "s3" (AWS) or "wos" (WOS). */
void sigv4_signing_key(bool flavor_wos, const char *secret, const char *date8, const char *region,
                       const char *service, unsigned char out[32]);

#endif
