/* Facts about the machine and the software, read once at the start: files
 * under /proc and /sys, dpkg-query for package versions, git (read-only:
 * rev-parse and describe) for the commit. Missing facts are null, never a
 * reason to refuse a run. */
#include "meta.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "results.h"

void ppexp_utc_now(char *buf, size_t len, int compact)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static void add_file_value(cJSON *o, const char *key, const char *path)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    if (f && fgets(buf, sizeof(buf), f)) {
        trim(buf);
        cJSON_AddStringToObject(o, key, buf);
    } else {
        cJSON_AddNullToObject(o, key);
    }
    if (f)
        fclose(f);
}

/* The value after "key" and ":" or "=" on the first matching line. */
static int grep_value(const char *path, const char *key, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int rc = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, strlen(key)) != 0)
            continue;
        char *p = line + strlen(key);
        p += strspn(p, " \t:=\"");
        trim(p);
        size_t n = strlen(p);
        if (n && p[n - 1] == '"')
            p[n - 1] = '\0';
        snprintf(out, len, "%s", p);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

static void add_capture(cJSON *o, const char *key, char *const argv[])
{
    char out[512];
    if (ppexp_child_capture(argv, out, sizeof(out), 5000) == 0 && out[0]) {
        trim(out);
        cJSON_AddStringToObject(o, key, out);
    } else {
        cJSON_AddNullToObject(o, key);
    }
}

static cJSON *versions(void)
{
    cJSON *v = cJSON_CreateObject();
    struct utsname u;
    if (uname(&u) == 0)
        cJSON_AddStringToObject(v, "kernel", u.release);
    char buf[256];
    if (grep_value("/etc/os-release", "PRETTY_NAME", buf, sizeof(buf)) == 0)
        cJSON_AddStringToObject(v, "distribution", buf);
    /* Debian package names of the libraries and programs. */
    static const char *const pkgs[][2] = {
        {"libevent", "libevent-2.1-7"}, {"libnl", "libnl-3-200"},     {"iptables", "iptables"},
        {"nginx", "nginx-light"},       {"nginx_core", "nginx-core"}, {"squid", "squid"},
        {"stress", "stress"},           {"gnuplot", "gnuplot-nox"},   {"libcjson", "libcjson1"}};
    for (size_t i = 0; i < sizeof(pkgs) / sizeof(pkgs[0]); i++) {
        char *argv[] = {"dpkg-query", "-W", "-f=${Version}", (char *)pkgs[i][1], NULL};
        char out[128];
        if (ppexp_child_capture(argv, out, sizeof(out), 5000) == 0 && out[0])
            cJSON_AddStringToObject(v, pkgs[i][0], out);
        else
            cJSON_AddNullToObject(v, pkgs[i][0]);
    }
    return v;
}

static cJSON *machine(void)
{
    cJSON *o = cJSON_CreateObject();
    char buf[256];
    if (grep_value("/proc/cpuinfo", "model name", buf, sizeof(buf)) == 0)
        cJSON_AddStringToObject(o, "cpu_model", buf);
    cJSON_AddNumberToObject(o, "cpus_online", (double)sysconf(_SC_NPROCESSORS_ONLN));
    if (grep_value("/proc/cpuinfo", "cpu MHz", buf, sizeof(buf)) == 0)
        cJSON_AddNumberToObject(o, "cpu_mhz", atof(buf));
    add_file_value(o, "governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    if (grep_value("/proc/meminfo", "MemTotal", buf, sizeof(buf)) == 0)
        cJSON_AddNumberToObject(o, "memory_bytes", atof(buf) * 1024.0);
    char host[256];
    if (gethostname(host, sizeof(host)) == 0)
        cJSON_AddStringToObject(o, "hostname", host);
    add_file_value(o, "loadavg_at_start", "/proc/loadavg");
    return o;
}

static const char *const net_sysctls[] = {"net/ipv4/ip_local_port_range", "net/core/somaxconn",
                                          "net/ipv4/tcp_tw_reuse", "net/ipv4/ip_forward",
                                          "net/ipv4/tcp_congestion_control"};

static cJSON *sysctls(const char *netns)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *host = cJSON_AddObjectToObject(o, "host");
    char path[128];
    for (size_t i = 0; i < sizeof(net_sysctls) / sizeof(net_sysctls[0]); i++) {
        snprintf(path, sizeof(path), "/proc/sys/%s", net_sysctls[i]);
        add_file_value(host, net_sysctls[i], path);
    }
    add_file_value(host, "net/netfilter/nf_conntrack_max",
                   "/proc/sys/net/netfilter/nf_conntrack_max");
    add_file_value(host, "kernel/sched_autogroup_enabled",
                   "/proc/sys/kernel/sched_autogroup_enabled");
    /* Network sysctls are per namespace: read the intermediate host's there. */
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int mid = netns ? open(netns, O_RDONLY | O_CLOEXEC) : -1;
    if (self >= 0 && mid >= 0 && setns(mid, CLONE_NEWNET) == 0) {
        cJSON *m = cJSON_AddObjectToObject(o, "intermediate_host");
        for (size_t i = 0; i < sizeof(net_sysctls) / sizeof(net_sysctls[0]); i++) {
            snprintf(path, sizeof(path), "/proc/sys/%s", net_sysctls[i]);
            add_file_value(m, net_sysctls[i], path);
        }
        if (setns(self, CLONE_NEWNET) < 0)
            abort(); /* cannot go on in the wrong namespace (never seen) */
    }
    if (self >= 0)
        close(self);
    if (mid >= 0)
        close(mid);
    return o;
}

int ppexp_meta_init(struct ppexp_meta *m, const struct ppexp_spec *s, const struct ppexp_plan *plan,
                    const char *netns, const char *repo, const char *argv_line)
{
    memset(m, 0, sizeof(*m));
    m->root = cJSON_CreateObject();
    if (!m->root)
        return -1;
    cJSON *r = m->root;
    cJSON_AddStringToObject(r, "name", s->name);
    cJSON_AddStringToObject(r, "command", argv_line);
    char *spec = ppexp_spec_to_json(s);
    cJSON_AddItemToObject(r, "spec", spec ? cJSON_Parse(spec) : cJSON_CreateNull());
    free(spec);
    cJSON_AddNumberToObject(r, "seed", (double)s->seed);
    cJSON_AddStringToObject(r, "status", "running");
    char now[32];
    ppexp_utc_now(now, sizeof(now), 0);
    cJSON_AddStringToObject(r, "start", now);
    cJSON_AddNullToObject(r, "end");
    cJSON *cfgs = cJSON_AddArrayToObject(r, "configurations");
    for (size_t i = 0; i < plan->nconfigs; i++)
        cJSON_AddItemToArray(cfgs, cJSON_CreateString(plan->configs[i].id));
    cJSON *skips = cJSON_AddArrayToObject(r, "skipped");
    for (size_t i = 0; i < plan->nskips; i++) {
        cJSON *k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "config", plan->skips[i].config.id);
        cJSON_AddStringToObject(k, "reason", plan->skips[i].reason);
        cJSON_AddItemToArray(skips, k);
    }
    m->order = cJSON_AddArrayToObject(r, "run_order");
    cJSON *git = cJSON_AddObjectToObject(r, "git");
    char *rev[] = {"git", "-C", (char *)repo, "rev-parse", "HEAD", NULL};
    add_capture(git, "commit", rev);
    char *desc[] = {"git", "-C", (char *)repo, "describe", "--always", "--dirty", NULL};
    add_capture(git, "describe", desc);
    cJSON_AddItemToObject(r, "versions", versions());
    cJSON_AddItemToObject(r, "machine", machine());
    cJSON_AddItemToObject(r, "sysctls", sysctls(netns));
    cJSON *dev = cJSON_AddArrayToObject(r, "deviations_from_paper");
    static const char *const deviations[] = {
        "one machine with network namespaces and veth pairs instead of three PCs with GbE NICs",
        "2 cores instead of 4 per machine; with placement split the intermediate host gets one "
        "core, the clients and the origin the other",
        "loadgen (one process, libevent) instead of one JMeter per client container",
        "nginx as the origin instead of Apache 2",
        "containers are namespaces + cgroups made by the manager, not Docker",
        "Squid 5 (Debian 12) instead of Squid 3; proxyd and nginx beside it",
        "no KVM rows (C1 and C7 need KVM)"};
    for (size_t i = 0; i < sizeof(deviations) / sizeof(deviations[0]); i++)
        cJSON_AddItemToArray(dev, cJSON_CreateString(deviations[i]));
    return 0;
}

void ppexp_meta_set_str(struct ppexp_meta *m, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(m->root, key);
    cJSON_AddStringToObject(m->root, key, value);
}

void ppexp_meta_set_num(struct ppexp_meta *m, const char *key, double value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(m->root, key);
    cJSON_AddNumberToObject(m->root, key, value);
}

void ppexp_meta_set_item(struct ppexp_meta *m, const char *key, cJSON *item)
{
    cJSON_DeleteItemFromObjectCaseSensitive(m->root, key);
    cJSON_AddItemToObject(m->root, key, item);
}

void ppexp_meta_add_run(struct ppexp_meta *m, int seq, int replicate, const char *config,
                        const char *status)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", seq);
    cJSON_AddNumberToObject(o, "replicate", replicate);
    cJSON_AddStringToObject(o, "config", config);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddItemToArray(m->order, o);
}

int ppexp_meta_write(const struct ppexp_meta *m, const char *dir, char *err, size_t errlen)
{
    char *text = cJSON_Print(m->root);
    if (!text) {
        snprintf(err, errlen, "out of memory formatting meta.json");
        return -1;
    }
    size_t n = strlen(text);
    char *withnl = malloc(n + 2);
    int rc = -1;
    if (withnl) {
        memcpy(withnl, text, n);
        withnl[n] = '\n';
        withnl[n + 1] = '\0';
        rc = ppexp_write_file(dir, "meta.json", withnl, err, errlen);
        free(withnl);
    }
    free(text);
    return rc;
}

void ppexp_meta_release(struct ppexp_meta *m)
{
    cJSON_Delete(m->root);
    memset(m, 0, sizeof(*m));
}
