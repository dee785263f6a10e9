// Package config holds costfed's three config files as typed structs with their
// defaults, strict YAML loading and validation that reports every problem at once:
//
//   - federated-store.yaml (Store): the thanos-io/objstore bucket config, accepted
//     exactly as Thanos and Kubecost users already write it (type, config, prefix;
//     S3, GCS, AZURE, FILESYSTEM);
//   - agent.yaml (Agent): one cluster's id (or, for a central agent, the
//     clusters: it lists or discovers in a shared workspace), its Prometheus
//     endpoint and auth, resolutions and retention, schedule and fallback
//     prices;
//   - federator.yaml (Federator): the merge schedule, cluster selection, retention
//     of the combined store and the query server of `costfed serve`.
//
// The package does no I/O beyond reading the file named to a Load function, reads
// no environment variable itself, has no clock and never panics. docs/config.md is
// the field reference.
//
// # Basics
//
// Load* reads, parses and validates; Parse* only decodes (call Validate). Every
// problem is a *FieldError naming the file, line and field path, e.g.
//
//	agent.yaml:7: unknown field "urll" in prometheus (did you mean "url"?)
//	agent.yaml:12: prometheus.concurrency: must be from 1 to 100
//
// and several problems come back together as an errors.Join; Problems splits
// them for one-line-per-problem output.
//
// Decoding is strict: defaults are set in code first, then the YAML is decoded
// over them, and every key must exist in the target struct — at the top level,
// nested, and inside the objstore provider's own config struct (s3.Config, …).
//
// ${NAME} in a value is replaced by the environment variable NAME, looked up
// through the function the caller passes (os.LookupEnv in the binary); $$ is a
// literal $; any other $ is kept. An unset variable is an error naming it and
// its line.
//
// Credentials never print: Secret fields show "<redacted>" through fmt, slog,
// JSON and YAML; Store keeps the provider config behind an unexported pointer and
// prints only its type, location and prefix; Redacted() renders a whole effective
// config with every credential (matched by key name over the YAML tree, so every
// provider is covered) replaced by "<redacted>".
//
// # Caveats
//
//   - Expansion happens on parsed values, never on the raw file, so a variable's
//     value cannot inject YAML, and it is not expanded again. A plain (unquoted)
//     value is re-typed after expansion ("port: ${PORT}" becomes a number); quote
//     it to keep a string. Keys are never expanded. There is no ${VAR:-default}.
//   - A literal "$$" in a password must be written "$$$$".
//   - Durations are Prometheus-style ("90s", "5m", "49h", "91d", "1w"), not Go's
//     ("1.5h" is rejected); they print in the largest exact unit, so "1w" prints
//     as "7d". A bare number such as 600 is rejected: it has no unit.
//   - An empty value ("settle_delay:") keeps the default.
//   - Load* resolves relative file paths (store, *_file, TLS files) against the
//     config file's directory, as Prometheus does; Parse* leaves them alone.
//   - The store's provider config is validated with the same rules objstore
//     applies when it builds the bucket, plus a few more (bucket required,
//     endpoint without a scheme, part_size bounds), so mistakes show at config
//     check rather than at the first upload.
//   - An empty Auth.Type is inferred (sigv4 for an AMP workspace URL or any sigv4
//     field, bearer, basic, else none) and the SigV4 region is taken from an AMP
//     URL; Parse* writes the inferred values back so Redacted shows them.
//   - Secret is a string type: fmt calls its String method only where it can, so
//     an Agent or Federator kept in an unexported field of a struct that is
//     printed whole shows its secrets. Log a config through Redacted(), or pass
//     it to slog or fmt directly. Store has no such gap (its provider config is
//     behind a function value), which also means two parsed Stores are never
//     reflect.DeepEqual: compare Type, Prefix and ProviderConfig().
//   - access_key is redacted although an AWS access key id is not a credential:
//     it names an IAM principal and many teams handle it as sensitive.
package config
