package config

import (
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds a config file: the largest real configs are a few KiB,
// and parsing a YAML file of tens of MB (an accident, or a paste of something
// else) took minutes and gigabytes. Larger files are one error (ErrTooLarge),
// before any parsing.
const MaxFileSize = 1 << 20

// ReadFile reads a config file of at most MaxFileSize bytes; a larger one is
// a *FieldError wrapping ErrTooLarge, found without reading it whole.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooLarge := &FieldError{File: path, Err: ErrTooLarge}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxFileSize {
		return nil, tooLarge
	}
	// Not a regular file (a pipe, /dev/stdin), or one that grew: read one
	// byte past the limit to tell.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge
	}
	return data, nil
}
