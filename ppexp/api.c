/* setns(CLONE_NEWNET) applies to the calling thread and to sockets it
 * creates from then on; ppexp is single-threaded, so switching in for one
 * exchange and back is enough. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int ppexp_api_open(struct ppexp_api *a, const char *netns_path, const char *manager_url,
                   const char *balancer_url, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->mid_fd = a->self_fd = -1;
    if (httpcall_parse_url(manager_url, &a->manager, err, errlen) < 0 ||
        httpcall_parse_url(balancer_url, &a->balancer, err, errlen) < 0)
        return -1;
    snprintf(a->manager.agent, sizeof(a->manager.agent), "ppexp");
    snprintf(a->balancer.agent, sizeof(a->balancer.agent), "ppexp");
    a->self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    a->mid_fd = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (a->self_fd < 0 || a->mid_fd < 0) {
        snprintf(err, errlen, "open %s: %s", a->mid_fd < 0 ? netns_path : "/proc/self/ns/net",
                 strerror(errno));
        ppexp_api_close(a);
        return -1;
    }
    return 0;
}

void ppexp_api_close(struct ppexp_api *a)
{
    explicit_bzero(a->token, sizeof(a->token));
    if (a->mid_fd >= 0)
        close(a->mid_fd);
    if (a->self_fd >= 0)
        close(a->self_fd);
    a->mid_fd = a->self_fd = -1;
}

int ppexp_api_load_token(struct ppexp_api *a, const char *path, char *err, size_t errlen)
{
    size_t len;
    if (apiauth_token_load(path, 0, a->token, &len, err, errlen) < 0) {
        a->token[0] = '\0';
        return -1;
    }
    return 0;
}

int ppexp_api_call(struct ppexp_api *a, const struct httpcall_target *t, const char *method,
                   const char *path, const char *body, int timeout_ms, struct httpcall_reply *r,
                   char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (setns(a->mid_fd, CLONE_NEWNET) < 0) {
        snprintf(err, errlen, "setns into the intermediate host: %s", strerror(errno));
        return -1;
    }
    int rc = httpcall_run(t, method, path, body, a->token[0] != '\0' ? a->token : NULL, timeout_ms,
                          r, err, errlen);
    if (setns(a->self_fd, CLONE_NEWNET) < 0) {
        /* Staying in mid would make every later step wrong: nothing to do
         * but say so loudly. */
        snprintf(err, errlen, "setns back to ppexp's namespace: %s", strerror(errno));
        httpcall_reply_free(r);
        return -1;
    }
    return rc;
}

int ppexp_api_save(struct ppexp_api *a, const struct httpcall_target *t, const char *path,
                   const char *file, char *err, size_t errlen)
{
    struct httpcall_reply r;
    if (ppexp_api_call(a, t, "GET", path, NULL, 5000, &r, err, errlen) < 0)
        return -1;
    int rc = 0;
    if (r.status != 200) {
        snprintf(err, errlen, "GET %s%s: status %d", t->url, path, r.status);
        rc = -1;
    }
    FILE *f = fopen(file, "w");
    if (!f || fwrite(r.body, 1, r.len, f) != r.len) {
        snprintf(err, errlen, "write %s: %s", file, strerror(errno));
        rc = -1;
    }
    if (f)
        fclose(f);
    httpcall_reply_free(&r);
    return rc;
}
