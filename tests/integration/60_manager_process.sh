#!/usr/bin/env bash
# The manager with the process runtime: see manager_scenario.sh.
# timeout: 150
RUNTIME=process
# shellcheck source=tests/integration/manager_scenario.sh
. "$(dirname "$0")/manager_scenario.sh"
