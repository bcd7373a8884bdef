/* A small client of the Docker Engine API (v1.41, Docker 20.10) on its unix
 * socket, for the docker runtime: libcurl's multi interface driven by the
 * manager's libevent loop, so many calls are in flight at once and none
 * blocks the loop; and a blocking form for what runs before the loop does
 * (adoption, crash cleanup) or after it (shutdown). */
#ifndef PP_DOCKERAPI_H
#define PP_DOCKERAPI_H

#include <stddef.h>

struct event_base;
struct dockerapi;

/* The path part of every call is prefixed with the API version. */
#define DOCKERAPI_VERSION "v1.41"
/* A unix socket path: sun_path's 108 bytes with the NUL. */
#define DOCKERAPI_SOCKET_MAX 107

/* status: the reply's HTTP status, or -1 when none came (err says why:
 * refused, timed out); body: len bytes and a NUL after them ("" when
 * empty; a container's logs may hold NULs of their own). */
typedef void (*dockerapi_cb)(void *ctx, long status, const char *body, size_t len, const char *err);

struct dockerapi *dockerapi_new(struct event_base *base, const char *socket_path, char *err,
                                size_t errlen);
/* Drops every call in flight uncalled. Accepts NULL. */
void dockerapi_free(struct dockerapi *api);

/* Starts METHOD path (e.g. "/containers/create?name=x") with json as the
 * body (NULL: none); cb(ctx, ...) later, from the loop, never from here.
 * 0, or -1 with err (cb is not called then). */
int dockerapi_start(struct dockerapi *api, const char *method, const char *path, const char *json,
                    int timeout_ms, dockerapi_cb cb, void *ctx, char *err, size_t errlen);
/* The same, for a ctx malloc'd for this call alone: cb frees it, and so
 * does the client when it drops the call uncalled (dockerapi_free). */
int dockerapi_start_owned(struct dockerapi *api, const char *method, const char *path,
                          const char *json, int timeout_ms, dockerapi_cb cb, void *ctx, char *err,
                          size_t errlen);
/* Drops the calls in flight whose ctx is ctx, uncalled. */
void dockerapi_cancel(struct dockerapi *api, void *ctx);
/* Calls in flight. */
size_t dockerapi_in_flight(const struct dockerapi *api);

/* The same call, blocking: *status and *body (malloc'd, the caller frees)
 * on 0; -1 with err when no reply came. */
int dockerapi_call(struct dockerapi *api, const char *method, const char *path, const char *json,
                   int timeout_ms, long *status, char **body, char *err, size_t errlen);

/* The daemon's error message from a reply body ({"message": "..."}), or the
 * body itself, into out. */
void dockerapi_error_text(const char *body, char *out, size_t outlen);

#endif
