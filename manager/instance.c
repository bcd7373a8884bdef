/* Instance state names, as the API and metrics spell them. */
#include "instance.h"

const char *instance_state_name(enum instance_state s)
{
    switch (s) {
    case INSTANCE_STARTING:
        return "starting";
    case INSTANCE_READY:
        return "ready";
    case INSTANCE_DRAINING:
        return "draining";
    case INSTANCE_STOPPED:
        return "stopped";
    case INSTANCE_FAILED:
        return "failed";
    }
    return "unknown";
}
