package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/costfed/costfed/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// env carries what a subcommand may touch of the process: its output streams
// and environment lookups. Subcommands never read os.* directly so
// tests can run them in-process.
type env struct {
	stdout io.Writer
	stderr io.Writer
	// lookupEnv reads the process environment (os.LookupEnv in main); nil
	// means an empty environment.
	lookupEnv func(string) (string, bool)
	// now is the clock blocks record as their build time, and the
	// federator's; nil means time.Now. Tests fix it (in-process, or with
	// COSTFED_TEST_NOW, see testhooks.go) to compare blocks byte for byte.
	now func() time.Time
}

// command is one subcommand. run returns a usageError for bad flags or
// arguments (exit status 2) and any other error for a failed run (status 1).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// usageError marks an error the user can fix by changing the command line or the
// config: it is printed as one line and exits with status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// commands lists every subcommand; files named cmd_<name>.go add to it in init-free
// style through this one table so the help output is complete and ordered.
func commands() []command {
	cmds := []command{
		{name: "version", summary: "print the costfed version", run: runVersion},
		{name: "config", summary: "check a config file and print the effective config, secrets redacted", run: runConfig},
		{name: "agent", summary: "build this cluster's cost blocks on a schedule (or, with clusters:, every cluster of a shared workspace)", run: runAgent},
		{name: "backfill", summary: "build the missing blocks of a time range, then exit", run: runBackfill},
		{name: "rebuild", summary: "recompute and replace the blocks of a time range (never with empty ones unless --force)", run: runRebuild},
		{name: "demo", summary: "simulate a fleet and run agents, federator and a cost report locally, no servers", run: runDemo},
		{name: "federator", summary: "merge every cluster's blocks into the combined store", run: runFederator},
		{name: "repair", summary: "rebuild a prefix's index from its blocks, setting aside blocks that fail verification", run: runRepair},
		{name: "status", summary: "coverage per cluster and resolution: windows, gaps, staleness, federation", run: runStatus},
		{name: "simulate", summary: "write a simulated fleet's metrics and ground truth", run: runSimulate},
		{name: "serve", summary: "serve the OpenCost-compatible allocation API over the combined store", run: runServe},
		{name: "query", summary: "answer an allocation question on the command line (table, json or csv)", run: runQuery},
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func main() {
	ctx, stop := notifyContext(context.Background())
	e := &env{stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv}
	now, err := testClock(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "costfed: %v\n", err)
		os.Exit(2)
	}
	e.now = now
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// interrupted is the cancellation cause of main's context: the signal that
// asked costfed to stop.
type interrupted struct{ sig syscall.Signal }

func (i interrupted) Error() string { return "interrupted by " + signalName(i.sig) }

// Is makes the cause a context.Canceled, as signal.NotifyContext's is.
func (i interrupted) Is(target error) bool { return target == context.Canceled }

// exitCode is the shell's status for a process ended by the signal: 128+n.
func (i interrupted) exitCode() int { return 128 + int(i.sig) }

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// notifyContext is cancelled, with an interrupted cause, by the first SIGINT
// or SIGTERM. Every command stops on it: services shut down and exit 0, jobs
// stop where they are and exit 128+signal (see run). The handler is removed
// at the first signal, so a second one kills the process at once (the way
// out of an agent's --shutdown-grace, or of a read that cannot be
// interrupted).
func notifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			sig, _ := s.(syscall.Signal)
			cancel(interrupted{sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(context.Canceled)
	}
}

// interruption returns the signal that cancelled ctx, if one did.
func interruption(ctx context.Context) (interrupted, bool) {
	var i interrupted
	ok := errors.As(context.Cause(ctx), &i)
	return i, ok
}

// run dispatches to a subcommand and maps its error to an exit status:
// 0 success, 1 failure, 2 usage or config error, 128+n a job stopped by
// signal n (130 SIGINT, 143 SIGTERM) when ctx is notifyContext's.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		sig, stopped := interruption(ctx)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case stopped:
			// A job cut short: one line, and the status a shell gives a
			// process the signal ended, so scripts and Jobs see it did
			// not finish.
			fmt.Fprintf(e.stderr, "costfed %s: %v before it finished (%v)\n", c.name, sig, err)
			return sig.exitCode()
		case errors.As(err, new(usageError)):
			fmt.Fprintf(e.stderr, "costfed %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(e.stderr, "costfed %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "costfed: unknown command %q (see costfed --help)\n", args[0])
	return 2
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("costfed: federated Kubernetes cost allocation\n\nUsage: costfed <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'costfed <command> --help' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// newFlagSet returns a FlagSet that reports errors instead of exiting, with a usage
// text naming the command. Its output is stdout: the usage is printed for --help
// only (see parseFlags).
func newFlagSet(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("costfed "+name, flag.ContinueOnError)
	fs.SetOutput(e.stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: costfed %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns flag errors into usage errors, which run
// prints as one line (the flag package would print the error and the whole
// usage first). --help prints the usage to the flag set's output (stdout) and
// returns flag.ErrHelp, which run maps to status 0.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return usageError{fmt.Errorf("%w (see %s --help)", err, fs.Name())}
	}
	return nil
}

// durationFlag is a time.Duration flag that takes the syntax of the configs
// (Prometheus style: 90s, 5m, 3h, 1d, 2w) as well as Go's (1h30m, 1.5h).
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return config.Duration(*f.d).String()
}

func (f durationFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if d, err := config.ParseDuration(s); err == nil {
		*f.d = time.Duration(d)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (e.g. 90s, 5m, 3h, 1d, 1h30m)")
	}
	*f.d = d
	return nil
}

// durationVar defines a duration flag that accepts the config syntax (1d).
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationFlag{p}, name, usage)
}

// durationFlagOf is durationVar returning the variable, as fs.Duration does.
func durationFlagOf(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	durationVar(fs, p, name, value, usage)
	return p
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintf(e.stdout, "costfed %s\n", version)
	return nil
}

// loadConfig runs a config loader through interruptible, so a config file
// that is a FIFO nobody writes cannot hold up a SIGTERM. A load error is a
// usage error; an interruption is returned as it is.
func loadConfig[T any](ctx context.Context, load func() (T, error)) (T, error) {
	var cfg T
	var loadErr error
	finished, err := interruptible(ctx, func() error {
		cfg, loadErr = load()
		return nil
	})
	if !finished {
		var zero T
		return zero, err
	}
	if loadErr != nil {
		return cfg, usageError{loadErr}
	}
	return cfg, nil
}

// interruptible runs f and returns true and its error, or false and ctx's
// cause as soon as ctx is done, leaving f to finish in the background (the caller then
// must not touch what f writes). It is for the few blocking calls that take
// no context, such as reading a config file that is a FIFO or /dev/stdin, in
// a process about to exit.
func interruptible(ctx context.Context, f func() error) (finished bool, err error) {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return true, err
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
}
