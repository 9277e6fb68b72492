/* fuzz_framing — http_framing_error (server/http_req.h): the message-framing rules that refuse a
 * request whose body's end is ambiguous (RFC 9112 §6.1, §6.3), over headers as libmicrohttpd
 * hands them over (a name may keep a space before the colon, a folded line may be glued to it).
 *
 * The input is header lines, each split at its first ':' into name and value (a line without one
 * is a name with an empty value). Invariants beyond "no crash, no leak, no UB": the verdict does
 * not depend on the headers' order; an accepted request names only token field names, at most
 * one Content-Length value, not both Content-Length and Transfer-Encoding, and a
 * Transfer-Encoding (if any) of exactly "chunked"; a refusal marked "unsupported" (501) is
 * always about Transfer-Encoding; adding one more framing header to an accepted request that
 * has the other kind is always refused. */
#include "fuzz.h"

#include <stdbool.h>
#include <strings.h>

#include "server/http_req.h"

enum { MAX_HEADERS = 64 };

typedef struct hdr {
    char *name, *value;
} hdr;

static const char *verdict(const hdr *h, int n, bool reverse, bool *unsupported, const hdr *extra)
{
    http_req *r = http_req_new("PUT", "/b/k");
    for (int i = 0; i < n; i++) {
        const hdr *x = &h[reverse ? n - 1 - i : i];
        http_req_add_header(r, x->name, x->value);
    }
    if (extra) http_req_add_header(r, extra->name, extra->value);
    const char *why = http_framing_error(r, unsupported);
    http_req_free(r);   /* the verdict is a static string */
    return why;
}

static bool token(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *s)) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor cur = {data, data + size};
    hdr h[MAX_HEADERS];
    int n = 0;
    char *line;
    while (n < MAX_HEADERS && (line = fuzz_line(&cur)) != NULL) {
        char *colon = strchr(line, ':');
        if (colon) *colon = 0;
        h[n].name = line;
        /* libmicrohttpd hands values over without the whitespace around them. */
        char *v = colon ? colon + 1 : line + strlen(line);
        while (*v == ' ' || *v == '\t') v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) v[--vl] = 0;
        h[n].value = v;
        n++;
    }

    bool u1, u2;
    const char *a = verdict(h, n, false, &u1, NULL);
    const char *b = verdict(h, n, true, &u2, NULL);
    FUZZ_CHECK(!a == !b);
    if (!a) {
        const char *cl = NULL;
        bool te = false;
        for (int i = 0; i < n; i++) {
            FUZZ_CHECK(token(h[i].name));
            if (!strcasecmp(h[i].name, "content-length")) {
                FUZZ_CHECK(!cl || !strcmp(cl, h[i].value));
                cl = h[i].value;
            } else if (!strcasecmp(h[i].name, "transfer-encoding")) {
                FUZZ_CHECK(!te && !strcasecmp(h[i].value, "chunked"));
                te = true;
            }
        }
        FUZZ_CHECK(!(cl && te));
        bool u;
        if (cl) FUZZ_CHECK(verdict(h, n, false, &u, &(hdr){"Transfer-Encoding", "chunked"}) != NULL);
        if (te) FUZZ_CHECK(verdict(h, n, false, &u, &(hdr){"Content-Length", "0"}) != NULL);
    } else if (u1) {
        bool any_te = false;
        for (int i = 0; i < n; i++) any_te |= !strcasecmp(h[i].name, "transfer-encoding");
        FUZZ_CHECK(any_te);
    }
    for (int i = 0; i < n; i++) free(h[i].name);
    return 0;
}
