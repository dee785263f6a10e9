// Command costfed is the single binary of the costfed project: one subcommand
// per job (federator, status, simulate, config check, version; agent, backfill,
// rebuild, serve, query and demo as they land). It parses flags, loads config
// and wires the library packages together; no behaviour lives here.
//
// # Caveats
//
//   - A bad flag, a bad config or a bad window is one line on stderr and exit
//     status 2 (usageError); a failed run is exit status 1. Nothing panics.
//   - Subcommands read the process only through env (streams and environment
//     lookups), so tests run them in-process with run().
//   - Long-running commands (federator; agent and serve later) stop on SIGINT
//     or SIGTERM and let a running pass finish; commit-critical writes run on
//     a detached, bounded context inside store.
package main
