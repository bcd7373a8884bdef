/* The shipped experiments: the paper's figures and tables at the paper's
 * sizes, each with a -quick version that keeps the shape and finishes in
 * minutes on two cores, and fig4-balancer. Each is a spec in JSON, parsed by
 * spec.c like a user's file, so a preset can be copied and edited. */
#ifndef PPEXP_PRESETS_H
#define PPEXP_PRESETS_H

#include <stddef.h>

struct ppexp_preset {
    const char *name;
    const char *paper; /* what in the paper it maps to, one line */
    const char *json;
};

size_t ppexp_preset_count(void);
const struct ppexp_preset *ppexp_preset_at(size_t i);
/* NULL when name is no preset. */
const struct ppexp_preset *ppexp_preset_find(const char *name);

#endif
