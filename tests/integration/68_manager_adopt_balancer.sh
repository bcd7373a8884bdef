#!/usr/bin/env bash
# Manager restarts under load in balancer mode: see adopt_scenario.sh.
# timeout: 150
FORWARDING=balancer
# shellcheck source=tests/integration/adopt_scenario.sh
. "$(dirname "$0")/adopt_scenario.sh"
