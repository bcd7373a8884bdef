/* One main() for every unit-test binary: runs the given Check suite in fork
 * mode (a crash in one test fails that test, not the run) and exits non-zero
 * if anything failed. */
#ifndef PP_CHECK_MAIN_H
#define PP_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define PP_CHECK_MAIN(suite_fn)                                                                    \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        srunner_set_fork_status(sr, CK_FORK);                                                      \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        srunner_free(sr);                                                                          \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                          \
    }

#endif
