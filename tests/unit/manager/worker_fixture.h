/* What the two test suites of manager/worker*.c (test_worker.c and
 * test_worker_conf.c) share: a worker_settings for instance NAME with the
 * paper's cache on one or two listeners, and an assertion that a generated
 * configuration holds a given line whole. */
#ifndef PP_TEST_WORKER_FIXTURE_H
#define PP_TEST_WORKER_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../../manager/worker/worker.h"

/* listen1 may be NULL. Paths name the instance: /run/proxypool/NAME and
 * /dev/shm/pp-NAME. */
static inline struct worker_settings worker_test_settings(const char *name, const char *listen0,
                                                          const char *listen1)
{
    static char dir[64], cache_dir[64];
    snprintf(dir, sizeof(dir), "/run/proxypool/%s", name);
    snprintf(cache_dir, sizeof(cache_dir), "/dev/shm/pp-%s", name);
    struct worker_settings s;
    memset(&s, 0, sizeof(s));
    s.name = name;
    s.dir = dir;
    s.cache_dir = cache_dir;
    s.user = "someone";
    char err[64];
    ck_assert_int_eq(addr_parse(listen0, -1, &s.listen[0], err, sizeof(err)), 0);
    s.nlisten = 1;
    if (listen1) {
        ck_assert_int_eq(addr_parse(listen1, -1, &s.listen[1], err, sizeof(err)), 0);
        s.nlisten = 2;
    }
    s.cache_on = 1;
    s.cache_mem_bytes = 260ull << 20;
    s.max_object_bytes = 1024ull << 10;
    return s;
}

/* Whether `line` is one whole line of `text`. */
static inline int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

#define ck_assert_line(text, line)                                                                 \
    ck_assert_msg(has_line(text, line), "no line '%s' in:\n%s", line, text)

#endif
