/* Tokens, Host and Content-Type checks for the control APIs (see
 * apiauth.h). Every function fills the caller's err; none logs. */
#include "apiauth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

int apiauth_token_read_fd(int fd, const char *path, int check_owner, char *token, size_t *len,
                          char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot stat token file %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "token file %s is not a regular file", path);
        return -1;
    }
    if (check_owner && st.st_uid != geteuid()) {
        snprintf(err, errlen, "token file %s is owned by uid %u, not by this process's uid %u",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (check_owner && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        snprintf(err, errlen,
                 "token file %s has mode %04o: group or others may read it (chmod 600 %s)", path,
                 (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, token + n, APIAUTH_TOKEN_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > APIAUTH_TOKEN_MAX) {
            snprintf(err, errlen, "token file %s is larger than %d bytes", path, APIAUTH_TOKEN_MAX);
            return -1;
        }
    }
    while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r'))
        n--;
    token[n] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "token file %s is empty", path);
        return -1;
    }
    /* RFC 6750's b64token is narrower; any visible ASCII byte can at least
     * travel in a header unchanged. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c < 0x21 || c > 0x7e) {
            snprintf(err, errlen,
                     "token file %s holds a space, control or non-ASCII byte at offset %zu, "
                     "which an Authorization header cannot carry",
                     path, i);
            return -1;
        }
    }
    *len = n;
    return 0;
}

int apiauth_token_load(const char *path, int check_owner, char *token, size_t *len, char *err,
                       size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = apiauth_token_read_fd(fd, path, check_owner, token, len, err, errlen);
    close(fd);
    return rc;
}

static int token_generate(int dirfd, const char *path, const char *name, char *err, size_t errlen)
{
    unsigned char raw[APIAUTH_TOKEN_RANDOM_BYTES];
    char hex[2 * sizeof(raw) + 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "getrandom for a new token: %s", strerror(errno));
            return -1;
        }
        got += (size_t)r;
    }
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(raw); i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[2 * sizeof(raw)] = '\n';
    explicit_bzero(raw, sizeof(raw));
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create token file %s: %s", path, strerror(errno));
        explicit_bzero(hex, sizeof(hex));
        return -1;
    }
    size_t want = 2 * sizeof(raw) + 1, done = 0;
    while (done < want) {
        ssize_t w = write(fd, hex + done, want - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "cannot write token file %s: %s", path,
                     w < 0 ? strerror(errno) : "short write");
            close(fd);
            unlinkat(dirfd, name, 0);
            explicit_bzero(hex, sizeof(hex));
            return -1;
        }
        done += (size_t)w;
    }
    explicit_bzero(hex, sizeof(hex));
    /* The umask may have narrowed 0600, never widened it; fchmod states it. */
    if (fchmod(fd, 0600) < 0 || close(fd) < 0) {
        snprintf(err, errlen, "cannot finish token file %s: %s", path, strerror(errno));
        unlinkat(dirfd, name, 0);
        return -1;
    }
    return 0;
}

int apiauth_token_ensure(int dirfd, const char *dir, const char *name, char *token, size_t *len,
                         int *created, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    *created = 0;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        if (token_generate(dirfd, path, name, err, errlen) < 0)
            return -1;
        *created = 1;
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot read token file %s: %s%s", path, strerror(errno),
                 errno == ELOOP ? " (a symlink: refused)" : "");
        return -1;
    }
    int rc = apiauth_token_read_fd(fd, path, 1, token, len, err, errlen);
    close(fd);
    return rc;
}

int apiauth_bearer_matches(const char *h, const char *token, size_t len)
{
    if (h == NULL || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return 0;
    const char *t = h + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t tlen = strlen(t);
    while (tlen > 0 && (t[tlen - 1] == ' ' || t[tlen - 1] == '\t'))
        tlen--;
    volatile unsigned char diff = tlen != len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = i < tlen ? (unsigned char)t[i] : 0;
        diff |= c ^ (unsigned char)token[i];
    }
    return diff == 0 && len > 0;
}

/* ":PORT" with 1 to 5 digits, or nothing. */
static int port_ok(const char *s)
{
    if (*s == '\0')
        return 1;
    if (*s != ':')
        return 0;
    size_t n = strspn(s + 1, "0123456789");
    return n >= 1 && n <= 5 && s[1 + n] == '\0';
}

int apiauth_host_ok(const char *host)
{
    if (host == NULL)
        return 1;
    char name[64];
    unsigned char buf[sizeof(struct in6_addr)];
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        size_t n = close != NULL ? (size_t)(close - host - 1) : 0;
        if (n == 0 || n >= sizeof(name))
            return 0;
        memcpy(name, host + 1, n);
        name[n] = '\0';
        return inet_pton(AF_INET6, name, buf) == 1 && port_ok(close + 1);
    }
    size_t n = strcspn(host, ":");
    if (n == 0 || n >= sizeof(name))
        return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    if (!port_ok(host + n))
        return 0;
    return strcasecmp(name, "localhost") == 0 || inet_pton(AF_INET, name, buf) == 1;
}

int apiauth_json_type_ok(const char *ct)
{
    static const char json[] = "application/json";
    if (ct == NULL)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, json, sizeof(json) - 1) != 0)
        return 0;
    ct += sizeof(json) - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}
