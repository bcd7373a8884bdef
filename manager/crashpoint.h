/* Test-only crash points: where a scale step (or the balancer's start)
 * has changed the kernel or the state dir and is about to change the next
 * thing. A build with -DPP_TEST_HOOKS (make asan; scenario 58 builds one)
 * kills the manager there, with no cleanup (SIGKILL), when the environment
 * names the point in PP_TEST_CRASH_AT; the next manager started over the
 * same state dir and prefix must then come up clean. Without the hooks
 * PP_CRASH_POINT compiles to nothing and no name below is in the binary.
 * Every name used must be in crashpoint.c's table: the scenario lists the
 * table (PP_TEST_CRASH_AT=list) and checks it against the sources. */
#ifndef PP_CRASHPOINT_H
#define PP_CRASHPOINT_H

#ifdef PP_TEST_HOOKS
void crashpoint_reach(const char *name);
/* A point of a scale step (trigger up or down) kills only in a step asked
 * for through the API, not in the start's own step to --replicas, which
 * passes the same points: the API calls this before it starts one. */
void crashpoint_arm_steps(void);
#define PP_CRASH_ARM_STEPS() crashpoint_arm_steps()
/* PP_TEST_CRASH_AT=list: prints the table ("name trigger modes" per line)
 * and returns 1 (main then exits); 0 otherwise. */
int crashpoint_list_if_asked(void);
#define PP_CRASH_POINT(name) crashpoint_reach(name)
#else
#define PP_CRASH_POINT(name) ((void)0)
#define PP_CRASH_ARM_STEPS() ((void)0)
static inline int crashpoint_list_if_asked(void)
{
    return 0;
}
#endif

#endif
