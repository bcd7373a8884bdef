#!/usr/bin/env bash
# Manager restarts under load in route mode, containers: see adopt_scenario.sh.
# timeout: 150
FORWARDING=route
RUNTIME=container
# shellcheck source=tests/integration/adopt_scenario.sh
. "$(dirname "$0")/adopt_scenario.sh"
