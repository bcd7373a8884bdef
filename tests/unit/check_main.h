/* One main() for every unit-test binary: runs the given Check suite in fork
 * mode (a crash in one test fails that test, not the run) and exits non-zero
 * if anything failed, or if nothing ran (CK_RUN_SUITE or CK_RUN_CASE naming
 * no suite or case here would otherwise pass without testing anything). */
#ifndef PP_CHECK_MAIN_H
#define PP_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#define PP_CHECK_MAIN(suite_fn)                                                                    \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        (void)argc;                                                                                \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        srunner_set_fork_status(sr, CK_FORK);                                                      \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        int ran = srunner_ntests_run(sr);                                                          \
        srunner_free(sr);                                                                          \
        if (ran == 0)                                                                              \
            fprintf(stderr, "%s: no checks ran (CK_RUN_SUITE, CK_RUN_CASE?)\n", argv[0]);          \
        return failed == 0 && ran > 0 ? EXIT_SUCCESS : EXIT_FAILURE;                               \
    }

#endif
