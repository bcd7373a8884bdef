/* natprobe: drives the nat forwarding mode (manager/fwd_nat.c) the way the
 * pool will, without the pool: partition the clients over N instances,
 * init, apply, print the rule count and the swap time, optionally swap to M
 * instances, then clear (or --keep for inspection). Exits non-zero on any
 * error. Run it only inside a test network namespace: it writes nat rules. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../manager/forward/forwarding.h"
#include "../../manager/partition.h"
#include "log.h"

/* More than any testbed uses; --clients is repeatable up to this. */
#define MAX_RANGES 64
#define DEFAULT_TARGET_PORT 3128

struct options {
    const char *prefix;
    struct in_addr vip;
    int vip_port;
    struct client_range ranges[MAX_RANGES];
    size_t nranges;
    int instances;
    int reapply_n; /* 0: no second apply */
    struct in_addr target_base;
    int have_target_base;
    int target_port;      /* with --target-base */
    int target_port_base; /* 0: unused; else 127.0.0.1:PORT+k */
    int keep;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: natprobe --vip ADDR --clients RANGE [--clients RANGE...] --instances N\n"
            "                (--target-base ADDR [--target-port P] | --target-port-base PORT)\n"
            "                [--prefix P] [--vip-port P] [--reapply-n M] [--keep | --clear]\n"
            "  --prefix P            chain PREFIX-DNAT, upper-cased (default pp)\n"
            "  --vip ADDR            the service address (required)\n"
            "  --vip-port P          its port (default 3128)\n"
            "  --clients RANGE       A-B, A or A/len; repeatable\n"
            "  --instances N         instances to partition over (default 1)\n"
            "  --target-base ADDR    instance k (from 0) at ADDR+k:--target-port\n"
            "  --target-port P       (default 3128)\n"
            "  --target-port-base P  instance k at 127.0.0.1:P+k (process runtime)\n"
            "  --reapply-n M         then swap to M instances and time it again\n"
            "  --keep                leave the rules in place at exit\n"
            "  --clear               remove them at exit (default)\n");
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"prefix", required_argument, NULL, 'p'},
        {"vip", required_argument, NULL, 'v'},
        {"vip-port", required_argument, NULL, 'P'},
        {"clients", required_argument, NULL, 'c'},
        {"instances", required_argument, NULL, 'n'},
        {"reapply-n", required_argument, NULL, 'r'},
        {"target-base", required_argument, NULL, 't'},
        {"target-port", required_argument, NULL, 'T'},
        {"target-port-base", required_argument, NULL, 'B'},
        {"keep", no_argument, NULL, 'k'},
        {"clear", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[256];
    int c, have_vip = 0;
    memset(o, 0, sizeof(*o));
    o->prefix = "pp";
    o->vip_port = 3128;
    o->instances = 1;
    o->target_port = DEFAULT_TARGET_PORT;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->prefix = optarg;
            break;
        case 'v':
            if (inet_pton(AF_INET, optarg, &o->vip) != 1) {
                fprintf(stderr, "natprobe: --vip %s: not an IPv4 address\n", optarg);
                return -1;
            }
            have_vip = 1;
            break;
        case 'P':
            if (parse_int(optarg, 1, 65535, &o->vip_port) < 0) {
                fprintf(stderr, "natprobe: --vip-port %s: 1..65535\n", optarg);
                return -1;
            }
            break;
        case 'c':
            if (o->nranges == MAX_RANGES) {
                fprintf(stderr, "natprobe: at most %d --clients\n", MAX_RANGES);
                return -1;
            }
            if (client_range_parse(optarg, &o->ranges[o->nranges], err, sizeof(err)) < 0) {
                fprintf(stderr, "natprobe: %s\n", err);
                return -1;
            }
            o->nranges++;
            break;
        case 'n':
        case 'r':
            if (parse_int(optarg, 1, 4096, c == 'n' ? &o->instances : &o->reapply_n) < 0) {
                fprintf(stderr, "natprobe: %s: 1..4096\n", optarg);
                return -1;
            }
            break;
        case 't':
            if (inet_pton(AF_INET, optarg, &o->target_base) != 1) {
                fprintf(stderr, "natprobe: --target-base %s: not an IPv4 address\n", optarg);
                return -1;
            }
            o->have_target_base = 1;
            break;
        case 'T':
        case 'B':
            if (parse_int(optarg, 1, 65535, c == 'T' ? &o->target_port : &o->target_port_base) <
                0) {
                fprintf(stderr, "natprobe: %s: 1..65535\n", optarg);
                return -1;
            }
            break;
        case 'k':
            o->keep = 1;
            break;
        case 'C':
            o->keep = 0;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc || !have_vip || o->nranges == 0 ||
        o->have_target_base == (o->target_port_base != 0)) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Targets for instances 1..n, as the two runtimes address them. */
static struct fwd_target *make_targets(const struct options *o, int n)
{
    struct fwd_target *t = calloc((size_t)n, sizeof(*t));
    if (!t)
        return NULL;
    for (int k = 0; k < n; k++) {
        t[k].instance_id = k + 1;
        if (o->have_target_base) {
            t[k].addr.s_addr = htonl(ntohl(o->target_base.s_addr) + (uint32_t)k);
            t[k].port = (uint16_t)o->target_port;
        } else {
            t[k].addr.s_addr = htonl(INADDR_LOOPBACK);
            if (o->target_port_base + k > 65535) {
                free(t);
                return NULL;
            }
            t[k].port = (uint16_t)(o->target_port_base + k);
        }
    }
    return t;
}

static int apply_n(struct fwd *f, const struct options *o, int n)
{
    char err[512];
    struct partition p;
    if (partition_compute(o->ranges, o->nranges, n, &p, err, sizeof(err)) < 0) {
        fprintf(stderr, "natprobe: %s\n", err);
        return -1;
    }
    struct fwd_target *t = make_targets(o, n);
    if (!t) {
        fprintf(stderr, "natprobe: cannot make %d targets\n", n);
        partition_free(&p);
        return -1;
    }
    int rc = f->ops->apply(f, &p, t, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "natprobe: apply for %d instances: %s\n", n, err);
    else
        printf("instances=%d clients=%u rules=%zu swap_us=%lld\n", n, p.clients, f->rules,
               (long long)f->last_swap_us);
    fflush(stdout);
    free(t);
    partition_free(&p);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    char err[512];
    log_init("natprobe", NULL);
    if (parse_options(argc, argv, &o) < 0)
        return 2;
    struct fwd f = {
        .ops = &fwd_nat_ops,
        .cfg = {.prefix = o.prefix, .vip = o.vip, .vip_port = (uint16_t)o.vip_port},
    };
    int rc = 1;
    if (f.ops->init(&f, err, sizeof(err)) < 0) {
        fprintf(stderr, "natprobe: init: %s\n", err);
        f.ops->free(&f);
        return 1;
    }
    if (apply_n(&f, &o, o.instances) < 0)
        goto out;
    if (o.reapply_n && apply_n(&f, &o, o.reapply_n) < 0)
        goto out;
    rc = 0;
out:
    if (!o.keep && f.ops->clear(&f, err, sizeof(err)) < 0) {
        fprintf(stderr, "natprobe: clear: %s\n", err);
        rc = 1;
    }
    f.ops->free(&f);
    return rc;
}
