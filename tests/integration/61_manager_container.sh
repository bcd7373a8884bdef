#!/usr/bin/env bash
# The manager with the container runtime, in a test network namespace: see
# manager_scenario.sh.
# timeout: 150
RUNTIME=container
# shellcheck source=tests/integration/manager_scenario.sh
. "$(dirname "$0")/manager_scenario.sh"
