/* What a control API checks before it acts, shared by the manager's REST API
 * and the balancer's admin API: bearer tokens in
 * files (generated 0600 from getrandom, refused when group or others may read
 * them), the Host header (only an IP literal or localhost: a DNS-rebound name
 * is refused) and the JSON content type of writes (a cross-site form cannot
 * send it without a CORS preflight). Knows no program; never logs. */
#ifndef PP_APIAUTH_H
#define PP_APIAUTH_H

#include <stddef.h>

/* Largest token accepted: bearer tokens are 32 to a few hundred bytes. */
#define APIAUTH_TOKEN_MAX 4096
/* A generated token: 32 random bytes, 64 hex digits (256 bits, as
 * `openssl rand -hex 32`). */
#define APIAUTH_TOKEN_RANDOM_BYTES 32
/* The token file's name in the manager's state directory. */
#define APIAUTH_TOKEN_NAME "api.token"

/* Reads the token in fd (path only names it in messages): the trailing
 * newline stripped, visible ASCII only, 1..APIAUTH_TOKEN_MAX bytes. With
 * check_owner, the file must be a regular file owned by this process's
 * effective user that group and others can neither read nor write. token
 * holds APIAUTH_TOKEN_MAX + 1 bytes. 0, or -1 with err filled. */
int apiauth_token_read_fd(int fd, const char *path, int check_owner, char *token, size_t *len,
                          char *err, size_t errlen);

/* apiauth_token_read_fd on path (opened following symlinks: an operator's
 * choice of file; its permissions are checked on what was opened). */
int apiauth_token_load(const char *path, int check_owner, char *token, size_t *len, char *err,
                       size_t errlen);

/* The token in name under the directory dirfd (shown as dir in messages),
 * opened without following a symlink; created 0600 with a new random token
 * when there is none. *created says which. 0, or -1 with err filled. */
int apiauth_token_ensure(int dirfd, const char *dir, const char *name, char *token, size_t *len,
                         int *created, char *err, size_t errlen);

/* Whether an Authorization header value carries "Bearer <token>". NULL
 * never matches. Takes time that depends only on len. */
int apiauth_bearer_matches(const char *authorization, const char *token, size_t len);

/* Whether a Host header value names this machine by address: an IPv4
 * literal, a bracketed IPv6 literal or "localhost", each with an optional
 * port. NULL (HTTP/1.0 without Host: no browser sends that) is accepted. */
int apiauth_host_ok(const char *host);

/* Whether a Content-Type value is application/json (parameters such as
 * charset allowed, case-insensitive). NULL is not. */
int apiauth_json_type_ok(const char *content_type);

#endif
