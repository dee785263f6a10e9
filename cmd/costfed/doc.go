// Command costfed is the single binary of the costfed project: one subcommand
// per job (agent, backfill, rebuild, federator, serve, query, status, repair,
// demo, simulate, config check, version). It parses flags, loads config and wires
// the library packages together; no behaviour lives here.
//
// # Caveats
//
//   - A bad flag, a bad config or a bad window is one line on stderr and exit
//     status 2 (usageError); a failed run is exit status 1. Nothing panics.
//     --help goes to stdout.
//   - Subcommands read the process only through env (streams and environment
//     lookups), so tests run them in-process with run().
//   - Every command stops on SIGINT or SIGTERM (notifyContext). Services
//     (agent, federator, serve, demo --serve) exit 0; the agent lets a
//     running build finish within --shutdown-grace (500ms by default, so
//     it too stops within a second; an abandoned window is built again). A job cut short (backfill,
//     rebuild, federator --once, query, status, repair, demo, simulate, config
//     check) prints one "interrupted by SIGTERM" line and exits 128+signal
//     (143; 130 for SIGINT). A second signal kills the process at once.
//     Commit-critical writes run on a detached, bounded context inside store.
//   - Bucket requests carry costfed/<version> first in their User-Agent, as
//     Prometheus requests do; /metrics has costfed_build_info.
//   - The agent starts serving /healthz, /readyz, /metrics and /status before
//     it calls Prometheus, and keeps retrying a source that is down; backfill
//     and rebuild fail at once instead. backfill and rebuild can read a TSDB
//     directory (prometheus.tsdb_path); the agent cannot.
//   - Range runs (agent ticks, backfill, rebuild) build hourly windows before
//     daily ones, so a day can be summed from the hours just built.
package main
