/* chunked — the aws-chunked content encoding of streaming SigV4 uploads.
 *
 *   hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
 *   [trailer-name:value\r\n ... [x-amz-trailer-signature:sig\r\n]] \r\n
 *
 * The decoder is fed the HTTP body in pieces of any size (one byte at a time works), hands the
 * decoded payload to a sink as it goes, checks each chunk signature when the upload is signed
 * (the chain starts at the seed signature of the Authorization header), collects the trailers
 * and checks the trailer signature. Memory is bounded: nothing but the current chunk header
 * and the trailers is held. */
#ifndef WOSD_S3_CHUNKED_H
#define WOSD_S3_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "s3/auth.h"
#include "s3/errors.h"
#include "util/arena.h"

typedef struct aws_chunked aws_chunked;

/* Returns 0 to go on, non-zero to stop (feed then returns S3E_InternalError). */
typedef int (*aws_chunked_sink)(void *cls, const char *data, size_t n);

/* auth gives the payload mode (one of the PAYLOAD_STREAMING_*), signing key, seed signature,
 * timestamp and scope. */
aws_chunked *aws_chunked_new(arena *a, const auth_result *auth);
/* Errors: S3E_IncompleteBody (framing), S3E_SignatureDoesNotMatch (a chunk or trailer
 * signature), S3E_InvalidRequest (malformed header or trailer). */
s3_err aws_chunked_feed(aws_chunked *c, const char *data, size_t n, aws_chunked_sink sink, void *cls);
/* Call when the HTTP body has ended: S3E_IncompleteBody unless the final chunk and the
 * trailer section were complete. */
s3_err aws_chunked_finish(aws_chunked *c);
/* Releases what the decoder holds outside the arena (the running hash of a chunk in
 * progress). Call it when a body is abandoned before aws_chunked_finish(); harmless after. */
void aws_chunked_discard(aws_chunked *c);
uint64_t aws_chunked_decoded_length(const aws_chunked *c);
/* Trailer value by case-insensitive name, once finished; NULL when absent. */
const char *aws_chunked_trailer(const aws_chunked *c, const char *name);

#endif
