/* The presets. Paper sizes: 1000 simultaneous requests per client for one
 * 1024 KB object, 10 replicates, stress with 12 CPU hogs on the intermediate
 * host during runs [P section 4]. Quick versions: 3 replicates, tens of
 * requests per client, no stress (on one core of two, 12 hogs would turn a
 * minute into ten), the same factors. */
#include "presets.h"

#include <string.h>

#define ALL_WORKERS "\"worker\": [\"proxyd\", \"squid\", \"nginx\"]"
#define FIG4_REPLICAS "\"replicas\": [1, 2, 4, 8, 16, 32]"

static const struct ppexp_preset presets[] = {
    {"fig2",
     "Fig. 2: 10 clients, 1 and 2 proxies, cache off; native = process runtime behind nat, "
     "Docker-NAT = container + nat, Docker-Routing = container + route (KVM rows out of scope)",
     "{\"name\": \"fig2\", \"clients\": 10, \"object_size\": \"1M\", \"requests\": 1000,"
     " \"concurrency\": 1000, \"replicates\": 10, \"warmup_s\": 2, \"seed\": 2,"
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
     "{\"name\": \"fig3\", \"clients\": 10, \"object_size\": \"1M\", \"requests\": 1000,"
     " \"concurrency\": 1000, \"replicates\": 10, \"warmup_s\": 2, \"seed\": 3,"
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
     "{\"name\": \"fig4\", \"clients\": 64, \"object_size\": \"1M\", \"requests\": 1000,"
     " \"concurrency\": 1000, \"replicates\": 10, \"warmup_s\": 2, \"seed\": 4,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\"], " FIG4_REPLICAS
     ", " ALL_WORKERS ", \"runtime\": [\"container\"], \"cache\": [true], \"stress\": [12],"
     " \"placement\": [\"split\"]}}"},
    {"fig4-quick",
     "Fig. 4's shape plus the balancer, in about 5 minutes: 64 clients x 3 simultaneous "
     "requests, 1, 2, 8 and 32 proxies (the paper's ends and the 8 where its curve turns up), "
     "nat, route and balancer, every worker, 3 replicates, no stress",
     "{\"name\": \"fig4-quick\", \"clients\": 64, \"object_size\": \"1M\", \"requests\": 3,"
     " \"concurrency\": 3, \"replicates\": 3, \"warmup_s\": 0.15, \"seed\": 4,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\", "
     "\"balancer\"], \"replicas\": [1, 2, 8, 32], " ALL_WORKERS
     ", \"runtime\": [\"container\"], \"cache\": [true],"
     " \"stress\": [0], \"placement\": [\"split\"]}}"},
    {"fig4-balancer", "Fig. 4 at the paper's size plus the balancer (which the paper lacks)",
     "{\"name\": \"fig4-balancer\", \"clients\": 64, \"object_size\": \"1M\", \"requests\": 1000,"
     " \"concurrency\": 1000, \"replicates\": 10, \"warmup_s\": 2, \"seed\": 5,"
     " \"baseline\": true, \"factors\": {\"forwarding\": [\"nat\", \"route\", "
     "\"balancer\"], " FIG4_REPLICAS ", " ALL_WORKERS
     ", \"runtime\": [\"container\"], \"cache\": [true],"
     " \"stress\": [12], \"placement\": [\"split\"]}}"},
    {"table2",
     "Table 2: CPU and memory of the intermediate host, one client, nat vs route, one "
     "container proxy, no stress",
     "{\"name\": \"table2\", \"clients\": 1, \"object_size\": \"1M\", \"requests\": 1000,"
     " \"concurrency\": 1000, \"replicates\": 10, \"warmup_s\": 2, \"seed\": 6,"
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
