/* admin_api — users, access keys, managed policies and their attachments, as a JSON API.
 *
 * Two doors lead here. The server answers the endpoints below under the reserved path prefix
 * /wos-admin/v1/ (request.c routes them before bucket addressing; they are signed like any S3
 * request and only the root credential may call them). `wosd admin user|key|policy … --data
 * DIR` calls admin_api_call directly on a stopped server's store, so both give the same
 * answers. This function knows the store and the policy engine, not HTTP.
 *
 *   GET    /wos-admin/v1/users                         {"users":[USER…]}
 *   POST   /wos-admin/v1/users         {"name":N}      201 {"user":USER}
 *   GET    /wos-admin/v1/users/N                       {"user":USER,"keys":[KEY…],"policies":[P…]}
 *   DELETE /wos-admin/v1/users/N                       204 (its keys and attachments go too)
 *   POST   /wos-admin/v1/users/N/disable | /enable     {"user":USER}
 *   GET    /wos-admin/v1/users/N/keys                  {"keys":[KEY…]}
 *   POST   /wos-admin/v1/users/N/keys                  201 {"key":KEY+"secret_key"} (shown once)
 *   GET    /wos-admin/v1/users/N/policies              {"policies":[NAME…]}
 *   PUT    /wos-admin/v1/users/N/policies/P            {"user":N,"policy":P}   (attach)
 *   DELETE /wos-admin/v1/users/N/policies/P            204                     (detach)
 *   GET    /wos-admin/v1/keys[?user=N]                 {"keys":[KEY…]}
 *   GET    /wos-admin/v1/keys/AK                       {"key":KEY}
 *   DELETE /wos-admin/v1/keys/AK                       204
 *   POST   /wos-admin/v1/keys/AK/disable | /enable     {"key":KEY}
 *   GET    /wos-admin/v1/policies                      {"policies":[{"name","builtin"}…]}
 *   GET    /wos-admin/v1/policies/P                    {"policy":{"name","builtin","document"}}
 *   PUT    /wos-admin/v1/policies/P    the document    201 created / 200 replaced {"policy":…}
 *   DELETE /wos-admin/v1/policies/P                    204 (409 DeleteConflict while attached)
 * USER = {"name","id","disabled","created"}; KEY = {"access_key","user","disabled",
 * "user_disabled","created"}. Path segments are percent-decoded. Errors: an HTTP status and
 * a code — NoSuchEntity 404, EntityAlreadyExists 409, DeleteConflict 409, InvalidInput 400,
 * MalformedPolicyDocument 400, NotFound 404 (no such endpoint), MethodNotAllowed 405,
 * InternalError 500 — with a message.
 *
 * Names: users 1–64 and policies 1–128 characters of A-Z a-z 0-9 + = , . @ _ - (AWS IAM's
 * rules); "root" and "anonymous" (and the root access key) are not user names, built-in policy
 * names are not managed-policy names. Access keys are 20 upper-case letters and digits, secrets
 * 40 characters of the base64 alphabet, user ids 32 hex digits, all from random_bytes(). */
#ifndef WOSD_S3_ADMIN_API_H
#define WOSD_S3_ADMIN_API_H

#include <stddef.h>

#include "store/meta.h"

enum { ADMIN_MAX_BODY = 64 * 1024 };

typedef struct admin_call {
    const char *method;           /* GET, POST, PUT, DELETE */
    const char *path;             /* as sent, percent-encoded: "/wos-admin/v1/users/alice" */
    const char *query;            /* raw query string; "" or NULL when none */
    const char *body;             /* may be NULL when body_len is 0 */
    size_t body_len;
    const char *root_access_key;  /* a name no user may take; NULL when unknown */
} admin_call;

typedef struct admin_reply {
    int status;                   /* HTTP status */
    char *body;                   /* the JSON answer, malloc'd (NULL for 204 and for errors) */
    size_t len;
    const char *code;             /* NULL on success, else the error code */
    char message[512];            /* the error's message */
} admin_reply;

/* Performs one call on the store. Never fails to fill *out; the caller frees out->body. */
void admin_api_call(meta_store *m, const admin_call *c, admin_reply *out);

#endif
