/* loadgen: parse the options, set up the run, run it, then write the JSON
 * summary and print the human one. Exit 0 when the run completed (failed
 * requests are data), also after SIGINT/SIGTERM; 1 on a runtime failure;
 * 2 on a usage error. */
#include <signal.h>
#include <stdio.h>

#include "config.h"
#include "report.h"
#include "run.h"

int main(int argc, char **argv)
{
    static struct loadgen_config cfg;
    char err[512];
    int rc = loadgen_config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        loadgen_config_free(&cfg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int status = 0;
    struct loadgen_run *run = loadgen_run_new(&cfg, err, sizeof(err));
    if (!run) {
        fprintf(stderr, "loadgen: %s\n", err);
        loadgen_config_free(&cfg);
        return 1;
    }
    if (loadgen_run_exec(run, err, sizeof(err)) < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        status = 1;
    }
    const struct loadgen_tallies *tallies = loadgen_run_tallies(run);
    if (cfg.json_path[0] &&
        loadgen_report_write_json(cfg.json_path, &cfg, tallies, err, sizeof(err)) < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        status = 1;
    }
    if (!cfg.quiet) {
        loadgen_report_text(stdout, &cfg, tallies);
        fflush(stdout);
    }
    loadgen_run_free(run);
    loadgen_config_free(&cfg);
    return status;
}
