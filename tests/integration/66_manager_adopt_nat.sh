#!/usr/bin/env bash
# Manager restarts under load in nat mode: see adopt_scenario.sh.
# timeout: 150
FORWARDING=nat
# shellcheck source=tests/integration/adopt_scenario.sh
. "$(dirname "$0")/adopt_scenario.sh"
