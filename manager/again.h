/* The manager's third answer, beside 0 and -1, for work that waits on
 * something outside (a lock, a child's start or exit, an admin reply):
 * not finished, not failed; the caller asks again in a few milliseconds
 * (nginx's NGX_AGAIN). Nothing in the manager sleeps to wait. */
#ifndef PP_AGAIN_H
#define PP_AGAIN_H

#define PP_AGAIN (-2)

#endif
