/* Rule comparison for the reconcile of our iptables chains: see xtentry.h. */
#include "xtentry.h"

#include <string.h>

/* Matches and targets share this header: size, name, revision, data. */
static int xtentry_same_ext(const unsigned char *a, const unsigned char *b)
{
    const struct xt_entry_target *x = (const void *)a, *y = (const void *)b;
    size_t size = y->u.user.target_size;
    return x->u.user.target_size == size && size >= sizeof(*y) &&
           strncmp(x->u.user.name, y->u.user.name, sizeof(y->u.user.name)) == 0 &&
           x->u.user.revision == y->u.user.revision &&
           memcmp(x->data, y->data, size - sizeof(*y)) == 0;
}

int xtentry_same(const struct ipt_entry *a, const struct ipt_entry *b, int upto_target)
{
    if (!b || memcmp(&a->ip, &b->ip, sizeof(a->ip)) != 0 || a->target_offset != b->target_offset ||
        a->next_offset != b->next_offset)
        return 0;
    const unsigned char *x = (const void *)a, *y = (const void *)b;
    size_t off = XT_ALIGN(sizeof(struct ipt_entry));
    while (off < b->target_offset) {
        const struct xt_entry_match *m = (const void *)(y + off);
        if (m->u.user.match_size < sizeof(*m) || !xtentry_same_ext(x + off, y + off))
            return 0;
        off += m->u.user.match_size;
    }
    return upto_target || xtentry_same_ext(x + b->target_offset, y + b->target_offset);
}
