package config

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, matched with errors.Is against any error this package returns.
var (
	// ErrEmpty reports a config file without any content.
	ErrEmpty = errors.New("config is empty")
	// ErrUnknownField reports a key the config type does not have (usually a typo).
	ErrUnknownField = errors.New("unknown field")
	// ErrUnsetEnv reports a ${VAR} reference to a variable that is not set.
	ErrUnsetEnv = errors.New("environment variable not set")
	// ErrTooLarge reports a config file over MaxFileSize, refused before parsing.
	ErrTooLarge = fmt.Errorf("larger than %d bytes (1 MiB), the limit of a config file", MaxFileSize)
)

// FieldError is one problem in a config: where it is (file, line, field path) and
// what is wrong. Messages never contain the value of a secret field.
type FieldError struct {
	File  string // file name as given to Parse*/Load*, "" for a config built in code
	Line  int    // 1-based line in File, 0 when unknown (e.g. a defaulted field)
	Field string // dotted field path such as "prometheus.auth.type", "" for the whole file
	Err   error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// unsetEnvError names the missing variable; it matches ErrUnsetEnv.
type unsetEnvError struct{ name string }

func (e unsetEnvError) Error() string {
	return fmt.Sprintf("environment variable %q is not set", e.name)
}

func (e unsetEnvError) Is(target error) bool { return target == ErrUnsetEnv }

// Problems flattens an error returned by this package into its individual
// problems, one per line of output: an errors.Join tree gives its leaves, any
// other error gives itself. A nil error gives nil.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	multi, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range multi.Unwrap() {
		out = append(out, Problems(e)...)
	}
	return out
}

// problems collects validation failures so that Validate reports all of them at
// once. Lines come from the parsed source when the config was read from a file.
type problems struct {
	src  *source
	errs []*FieldError
}

func (p *problems) addf(field, format string, args ...any) {
	p.add(field, fmt.Errorf(format, args...))
}

func (p *problems) add(field string, err error) {
	p.errs = append(p.errs, &FieldError{File: p.src.fileName(), Line: p.src.lineOf(field), Field: field, Err: err})
}

// err returns the problems in file order (those without a line last), joined.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	sortByLine(p.errs)
	out := make([]error, len(p.errs))
	for i, e := range p.errs {
		out[i] = e
	}
	return errors.Join(out...)
}
