/* The presets. Paper sizes: 1000 simultaneous requests per client for one
 * 1024 KB object, 10 replicates, stress with 12 CPU hogs on the intermediate
 * host during runs [P section 4]. Quick versions: small, no stress (on one
 * core of two, 12 hogs would turn a minute into ten), the same factors;
 * fig4-quick (the demo) is sized to decide its claims in 10 minutes.
 *
 * Runs are time-based after a warm-up, in steady state (caches primed and
 * checked as HITs first): the warm-up is at least ~3x the mean time per
 * request, which a closed loop sets by Little's law to the requests in
 * flight over the slowest cell's requests/s. Measured here (2 cores, the
 * intermediate host on one, no stress): Squid ~250 requests/s of the 1 MiB
 * object from its cache and ~45 without (fig2-quick), proxyd ~1600; 4 stress
 * hogs cut that to ~0.55x, so 12 to perhaps ~0.3x. At the paper's sizes
 * (10,000 and 64,000 in flight) a cache-hit Squid cell under stress takes
 * ~130 s (fig3) and ~850 s (fig4) per request, a cache-off one ~770 s
 * (fig2): the warm-ups below fit proxyd and nginx and Squid's fig3 cells;
 * fig2's and fig4's Squid cells at full size would need more than the hour
 * a loadgen run is given (measure.c), and each run's Little's-law check
 * flags what is not yet steady. Replicates: the paper's 10 as the maximum,
 * at least 5, added one block at a time until the claims are decided
 * (stopping.h). */
#include "presets.h"

#include <string.h>

#define ALL_WORKERS "\"worker\": [\"proxyd\", \"squid\", \"nginx\"]"
#define FIG4_REPLICAS "\"replicas\": [1, 2, 4, 8, 16, 32]"
/* The paper's sizes: see above for where the times come from. */
#define PAPER_TIMES "\"warmup_s\": 600, \"duration_s\": 600"
#define FIG3_TIMES "\"warmup_s\": 400, \"duration_s\": 400"
#define PAPER_BLOCKS "\"replicates\": {\"min\": 5, \"max\": 10}"

static const struct ppexp_preset presets[] = {
    {"fig2",
     "Fig. 2: 10 clients, 1 and 2 proxies, cache off; native = process runtime behind nat, "
     "Docker-NAT = container + nat, Docker-Routing = container + route (KVM rows out of scope)",
     "{\"name\": \"fig2\", \"clients\": 10, \"object_size\": \"1M\", \"concurrency\": 1000,"
     " " PAPER_TIMES ", " PAPER_BLOCKS ", \"seed\": 2,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
     " \"runtime\": [\"process\", \"container\"], \"replicas\": [1, 2], " ALL_WORKERS ","
     " \"cache\": [false], \"stress\": [12], \"placement\": [\"split\"]}}"},
    {"fig2-quick", "Fig. 2's shape: 10 clients x 20 requests, 3 replicates, no stress",
     "{\"name\": \"fig2-quick\", \"clients\": 10, \"object_size\": \"1M\", \"requests\": 20,"
     " \"concurrency\": 20, \"replicates\": 3, \"warmup_s\": 0.5, \"seed\": 2,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
     " \"runtime\": [\"process\", \"container\"], \"replicas\": [1, 2], " ALL_WORKERS ","
     " \"cache\": [false], \"stress\": [0], \"placement\": [\"split\"]}}"},
    {"fig3", "Fig. 3: Fig. 2 with the cache on (max object 1024 KB, memory cache 260 MB)",
     "{\"name\": \"fig3\", \"clients\": 10, \"object_size\": \"1M\", \"concurrency\": 1000,"
     " " FIG3_TIMES ", " PAPER_BLOCKS ", \"seed\": 3,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
     " \"runtime\": [\"process\", \"container\"], \"replicas\": [1, 2], " ALL_WORKERS ","
     " \"cache\": [true], \"stress\": [12], \"placement\": [\"split\"]}}"},
    {"fig3-quick", "Fig. 3's shape: 10 clients x 20 requests, 3 replicates, no stress",
     "{\"name\": \"fig3-quick\", \"clients\": 10, \"object_size\": \"1M\", \"requests\": 20,"
     " \"concurrency\": 20, \"replicates\": 3, \"warmup_s\": 0.5, \"seed\": 3,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
     " \"runtime\": [\"process\", \"container\"], \"replicas\": [1, 2], " ALL_WORKERS ","
     " \"cache\": [true], \"stress\": [0], \"placement\": [\"split\"]}}"},
    {"fig4",
     "Fig. 4: 64 clients x 1000 simultaneous requests, containers, cache on, 1..32 proxies, "
     "nat vs route, stress 12",
     "{\"name\": \"fig4\", \"clients\": 64, \"object_size\": \"1M\", \"concurrency\": 1000,"
     " " PAPER_TIMES ", " PAPER_BLOCKS ", \"seed\": 4,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\"], " FIG4_REPLICAS
     ", " ALL_WORKERS ", \"runtime\": [\"container\"], \"cache\": [true], \"stress\": [12],"
     " \"placement\": [\"split\"]}}"},
    {"fig4-quick",
     "Fig. 4's claims for the demo, under 10 minutes on 2 cores: 64 clients x 1 request in "
     "flight, 1, 2 and 8 proxies (the paper's two and the 8 where its curve turns up), nat "
     "and route, proxyd and Squid, containers, cache on, shared placement, 3 s runs after "
     "1 s of warm-up, 3 to 9 blocks until C2, C3, C5 and C6 are decided, no stress",
     /* Tuned by measurement here (2 cores shared with other builds): split
      * placement gives the intermediate host one core, where a second
      * single-threaded proxy has no CPU to add (the paper's host had four):
      * C3 came out 1.08 [0.96, 1.20] after 7 blocks; shared lets two proxies
      * use both cores, as two of the paper's four, and C3 holds by block 3.
      * Runs: per-run time per request moves +-15-25% with the CPU share the
      * other tenants leave, and 4 s runs gave a tighter per-block spread than
      * 2 s ones for the same wall time; 3 s + 1 s warm-up (>= 3x Squid's
      * ~160 ms per request at one proxy) keeps a block of 12 runs near 60 s,
      * so 8 or 9 blocks fit ppexp's --budget 9m in the demo. No direct baseline
      * and no nginx or balancer: no claim reads them (the full presets keep
      * every cell). */
     "{\"name\": \"fig4-quick\", \"clients\": 64, \"object_size\": \"1M\", \"concurrency\": 1,"
     " \"duration_s\": 3, \"warmup_s\": 1, \"replicates\": {\"min\": 3, \"max\": 9},"
     " \"seed\": 4, \"baseline\": false, \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
     " \"replicas\": [1, 2, 8], \"worker\": [\"proxyd\", \"squid\"], \"runtime\": [\"container\"],"
     " \"cache\": [true], \"stress\": [0], \"placement\": [\"shared\"]}}"},
    {"fig4-host",
     "Fig. 4's whole grid at the size this host runs in about 40 minutes: 64 clients x 2 "
     "requests in flight, 1..32 proxies, nat and route, proxyd, Squid and nginx, containers, "
     "cache on, shared placement, 4 s runs after 2 s of warm-up, 5 blocks, the direct "
     "baseline, no stress",
     /* The paper's size needs ~37 hours here (37 configurations x 5 blocks
      * x 20 minutes, see above); this keeps every cell and the paper's 64
      * clients, with 128 requests in flight (Squid's ~0.5 s per request at
      * one proxy: a 2 s warm-up is ~4x it) and 5 fixed blocks (a fixed
      * design: no stopping rule to correct for). Shared placement as in
      * fig4-quick: on one core of two (split) a second proxy has no CPU to
      * add. */
     "{\"name\": \"fig4-host\", \"clients\": 64, \"object_size\": \"1M\", \"concurrency\": 2,"
     " \"duration_s\": 4, \"warmup_s\": 2, \"replicates\": 5, \"seed\": 4, \"baseline\": true,"
     " \"factors\": {\"forwarding\": [\"nat\", \"route\"], " FIG4_REPLICAS ", " ALL_WORKERS ","
     " \"runtime\": [\"container\"], \"cache\": [true], \"stress\": [0],"
     " \"placement\": [\"shared\"]}}"},
    {"fig4-docker",
     "Docker-NAT and Docker-Routing with real Docker (a private dockerd in the intermediate "
     "host, proxyd's image): 32 clients x 1 request in flight, 1 and 2 proxies, cache on, "
     "shared placement, 3 s runs after 1 s of warm-up, 3 blocks, a few minutes",
     /* The docker runtime runs proxyd only (no Squid or nginx image). Four
      * configurations on one manager (forwarding and replicas change live),
      * 3 fixed blocks: ~12 runs of ~5 s plus the daemon and image. */
     "{\"name\": \"fig4-docker\", \"clients\": 32, \"object_size\": \"1M\", \"concurrency\": 1,"
     " \"duration_s\": 3, \"warmup_s\": 1, \"replicates\": 3, \"seed\": 8,"
     " \"baseline\": false, \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
     " \"replicas\": [1, 2], \"worker\": [\"proxyd\"], \"runtime\": [\"docker\"],"
     " \"cache\": [true], \"stress\": [0], \"placement\": [\"shared\"]}}"},
    {"fig4-balancer", "Fig. 4 at the paper's size plus the balancer (which the paper lacks)",
     "{\"name\": \"fig4-balancer\", \"clients\": 64, \"object_size\": \"1M\","
     " \"concurrency\": 1000, " PAPER_TIMES ", " PAPER_BLOCKS ", \"seed\": 5,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\", "
     "\"balancer\"], " FIG4_REPLICAS ", " ALL_WORKERS
     ", \"runtime\": [\"container\"], \"cache\": [true],"
     " \"stress\": [12], \"placement\": [\"split\"]}}"},
    {"table2",
     "Table 2: CPU and memory of the intermediate host, one client, nat vs route, one "
     "container proxy, no stress",
     "{\"name\": \"table2\", \"clients\": 1, \"object_size\": \"1M\", \"concurrency\": 1000,"
     " \"duration_s\": 30, \"warmup_s\": 5, " PAPER_BLOCKS ", \"seed\": 6,"
     " \"baseline\": false, \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
     " \"replicas\": [1], \"worker\": [\"proxyd\"], \"runtime\": [\"container\"],"
     " \"cache\": [true], \"stress\": [0], \"placement\": [\"split\"]}}"},
    {"table2-quick", "Table 2's shape: one client x 200 requests, 3 replicates",
     "{\"name\": \"table2-quick\", \"clients\": 1, \"object_size\": \"1M\", \"requests\": 200,"
     " \"concurrency\": 50, \"replicates\": 3, \"warmup_s\": 0.5, \"seed\": 6,"
     " \"baseline\": false, \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
     " \"replicas\": [1], \"worker\": [\"proxyd\"], \"runtime\": [\"container\"],"
     " \"cache\": [true], \"stress\": [0], \"placement\": [\"split\"]}}"},
    {"table3",
     "Table 3: time to instantiate 10 proxy instances, 10 replicates, per runtime and worker "
     "(Docker = container; KVM out of scope)",
     "{\"name\": \"table3\", \"measure\": \"instantiate\", \"clients\": 64, \"replicates\": 10,"
     " \"seed\": 7, \"baseline\": false, \"factors\": {\"forwarding\": [\"nat\"],"
     " \"replicas\": [10], " ALL_WORKERS ", \"runtime\": [\"process\", \"container\"],"
     " \"cache\": [true], \"stress\": [0], \"placement\": [\"split\"]}}"},
    {"table3-quick", "Table 3's shape: 10 instances, 3 replicates",
     "{\"name\": \"table3-quick\", \"measure\": \"instantiate\", \"clients\": 64,"
     " \"replicates\": 3, \"seed\": 7, \"baseline\": false, \"factors\": {\"forwarding\": "
     "[\"nat\"], \"replicas\": [10], " ALL_WORKERS ", \"runtime\": [\"process\", \"container\"],"
     " \"cache\": [true], \"stress\": [0], \"placement\": [\"split\"]}}"},
};

size_t ppexp_preset_count(void)
{
    return sizeof(presets) / sizeof(presets[0]);
}

const struct ppexp_preset *ppexp_preset_at(size_t i)
{
    return i < ppexp_preset_count() ? &presets[i] : NULL;
}

const struct ppexp_preset *ppexp_preset_find(const char *name)
{
    for (size_t i = 0; i < ppexp_preset_count(); i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}
