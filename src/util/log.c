#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/timefmt.h"

static log_level min_level = LOG_INFO;

void log_set_level(log_level l) { min_level = l; }

void log_msg(log_level l, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (l < min_level) return;
    char ts[25], line[2048];
    time_fmt_iso_ms(time_now_ms(), ts);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf so lines from different threads do not interleave. */
    fprintf(stderr, "%s %s %s\n", ts, names[l], line);
}
