package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/costfed/costfed/config"
)

const configCheckUsage = "config check [--kind store|agent|federator] FILE"

const configHelp = `Usage: costfed ` + configCheckUsage + `

Checks a config file: strict YAML (unknown keys are errors), ${VAR} expansion from
the environment, validation of every field. On success prints the effective config
(defaults applied, secrets shown as <redacted>) and exits 0; otherwise prints one
line per problem (file:line: field: message) and exits 2.

The kind is detected from the top-level keys when --kind is absent: "type" or
"config" means federated-store.yaml; "cluster_id", "prometheus" (or another key
only agent.yaml has) or a central agent's "clusters: {ids|discover}" agent.yaml;
anything else federator.yaml. An agent or federator config's store: file is checked too.
Flags go before FILE. An environment variable set to "" counts as unset.

Run 'costfed config check --help' for the flags.
`

// runConfig implements "costfed config check FILE". The config package owns the
// loading; this only wires flags to it.
func runConfig(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		io.WriteString(e.stderr, configHelp)
		return usagef(`missing subcommand: want "check"`)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		io.WriteString(e.stdout, configHelp)
		return flag.ErrHelp
	case "check":
		return runConfigCheck(ctx, e, args[1:])
	}
	return usagef(`unknown subcommand %q: want "check"`, args[0])
}

func runConfigCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "config check", configCheckUsage)
	kind := fs.String("kind", "", "which config FILE is: store (federated-store.yaml), agent or federator; detected from its top-level keys when empty")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one FILE, got %d arguments (see costfed config check --help)", fs.NArg())
	}
	path := fs.Arg(0)
	k := config.Kind(*kind)
	switch k {
	case "", config.KindStore, config.KindAgent, config.KindFederator:
	default:
		return usagef("--kind must be store, agent or federator, got %q", *kind)
	}
	// The file may be a FIFO or /dev/stdin, which nothing may ever write:
	// reading it takes no context, so it must not hold up a SIGTERM.
	var out []byte
	var readErr error
	finished, err := interruptible(ctx, func() error {
		data, err := config.ReadFile(path) // over 1 MiB: one error, before parsing
		if err != nil {
			readErr = fmt.Errorf("read config: %w", err)
			return readErr
		}
		if k == "" {
			k = config.DetectKind(data)
		}
		out, err = config.Check(k, path, lookupEnvFrom(e))
		return err
	})
	switch {
	case !finished:
		return err
	case readErr != nil:
		return usageError{readErr}
	}
	if err != nil {
		problems := config.Problems(err)
		for _, p := range problems {
			fmt.Fprintln(e.stderr, p)
		}
		return usagef("%s: %d problem(s) in the %s config", path, len(problems), k)
	}
	fmt.Fprintf(e.stdout, "# effective %s config of %s (defaults applied, secrets redacted)\n", k, path)
	_, err = e.stdout.Write(out)
	return err
}

// lookupEnvFrom returns the config packages' view of the environment.
func lookupEnvFrom(e *env) func(string) (string, bool) {
	if e.lookupEnv == nil {
		return func(string) (string, bool) { return "", false }
	}
	return e.lookupEnv
}
