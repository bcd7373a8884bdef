/* The table of crash points (crashpoint.h) and the hook that kills the
 * manager at the one PP_TEST_CRASH_AT names. Test builds only. */
#include "crashpoint.h"

#ifdef PP_TEST_HOOKS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each point: its name, what reaches it (start: the manager's start;
 * up: a scale step 1 -> 2; down: 2 -> 1) and the forwarding modes whose
 * steps pass it (the scenario runs each in the first one it lists that
 * it covers). */
struct crashpoint {
    const char *name;
    const char *trigger;
    const char *modes;
};

static const struct crashpoint crashpoints[] = {
    /* pool.c: an instance's life in a scale step */
    {"up.spawned", "up", "nat,route,balancer"},         /* forked, no pid file yet */
    {"up.pidfile_written", "up", "nat,route"},          /* pid file, the child not yet let go */
    {"up.ready", "up", "nat,balancer"},                 /* answers /healthz, not yet forwarded to */
    {"up.forward_applied", "up", "nat,route,balancer"}, /* the rules send clients to it */
    {"down.forward_applied", "down", "nat,route,balancer"}, /* clients no longer sent to 2 */
    {"down.drain_started", "down", "nat,route"},            /* 2 got its stop signal */
    {"down.exited", "down", "nat,route"},                   /* 2 exited, its runtime parts remain */
    {"down.released", "down", "nat,route"},   /* its parts gone, its pid file remains */
    {"down.slot_freed", "down", "nat,route"}, /* pid file gone, rules not yet retired */
    {"down.retired", "down", "route,nat"},    /* the mode forgot 2; step not yet done */
    /* runtime_container.c: the parts of an instance before it runs */
    {"container.cgroup_created", "up", "route"},
    {"container.veth_added", "up", "route"},
    /* fwd_nat.c */
    {"nat.committed", "up", "nat"},
    /* fwd_route.c: apply, then retire, in the order they change the kernel */
    {"route.pins_set", "up", "route"},
    {"route.table_routed", "up", "route"},
    {"route.fwmark_rule_added", "up", "route"},
    {"route.band_added", "up", "route"},
    {"route.old_band_removed", "up", "route"},
    {"route.retire_pins_set", "down", "route"},
    {"route.retire_fwmark_rule_removed", "down", "route"},
    {"route.retire_table_removed", "down", "route"},
    /* fwd_balancer.c: its start (forked, pid file) and a backend set sent */
    {"balancer.spawned", "start", "balancer"},
    {"balancer.pidfile_written", "start", "balancer"},
    {"balancer.set_taken", "up", "balancer"},
};

static int steps_armed;

void crashpoint_arm_steps(void)
{
    steps_armed = 1;
}

void crashpoint_reach(const char *name)
{
    static const char *at;
    static int looked;
    if (!looked) {
        at = getenv("PP_TEST_CRASH_AT");
        looked = 1;
    }
    if (!at || strcmp(at, name) != 0)
        return;
    const struct crashpoint *cp = NULL;
    for (size_t i = 0; i < sizeof(crashpoints) / sizeof(crashpoints[0]); i++)
        if (strcmp(crashpoints[i].name, name) == 0)
            cp = &crashpoints[i];
    if (cp && strcmp(cp->trigger, "start") != 0 && !steps_armed)
        return; /* the start's own step: not the one under test */
    int known = cp != NULL;
    /* One line, written straight to stderr (the log), then SIGKILL: no
     * atexit, no cleanup, exactly what a kill -9 at this point leaves. */
    dprintf(2, "PP_TEST_CRASH_AT: crashing at %s%s\n", name,
            known ? "" : " (not in crashpoint.c's table)");
    raise(SIGKILL);
}

int crashpoint_list_if_asked(void)
{
    const char *at = getenv("PP_TEST_CRASH_AT");
    if (!at || strcmp(at, "list") != 0)
        return 0;
    for (size_t i = 0; i < sizeof(crashpoints) / sizeof(crashpoints[0]); i++)
        printf("%s %s %s\n", crashpoints[i].name, crashpoints[i].trigger, crashpoints[i].modes);
    return 1;
}
#endif
