/* The manager's REST API (and the balancer's admin API) as ppexp reaches
 * them: both listen on loopback inside the testbed's intermediate host, so
 * every call opens its socket inside that namespace (setns around one
 * blocking common/httpcall exchange) and ppexp itself stays where it is. */
#ifndef PPEXP_API_H
#define PPEXP_API_H

#include <stddef.h>

#include "apiauth.h"
#include "httpcall.h"

struct ppexp_api {
    int mid_fd;  /* /run/netns/P-mid */
    int self_fd; /* ppexp's own namespace, to come back to */
    struct httpcall_target manager, balancer;
    /* The manager's bearer token (it guards its balancer too), sent with
     * every call; "" until ppexp_api_load_token. */
    char token[APIAUTH_TOKEN_MAX + 1];
};

int ppexp_api_open(struct ppexp_api *a, const char *netns_path, const char *manager_url,
                   const char *balancer_url, char *err, size_t errlen);
void ppexp_api_close(struct ppexp_api *a);
/* Reads the token the manager keeps in path (STATE_DIR/api.token). */
int ppexp_api_load_token(struct ppexp_api *a, const char *path, char *err, size_t errlen);
/* One exchange inside the namespace; as httpcall_run (0 with r filled
 * whatever the status, -1 not reached, -2 no complete reply). */
int ppexp_api_call(struct ppexp_api *a, const struct httpcall_target *t, const char *method,
                   const char *path, const char *body, int timeout_ms, struct httpcall_reply *r,
                   char *err, size_t errlen);
/* GET path into file (the body as is); 0 on a 200. */
int ppexp_api_save(struct ppexp_api *a, const struct httpcall_target *t, const char *path,
                   const char *file, char *err, size_t errlen);

#endif
