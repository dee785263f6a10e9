package testinfra

import (
	"os"
	"syscall"
)

// userXattrsWork reports whether files in dir accept user extended
// attributes, which versitygw's posix backend stores object metadata in.
func userXattrsWork(dir string) bool {
	f, err := os.CreateTemp(dir, ".xattr-probe-*")
	if err != nil {
		return false
	}
	name := f.Name()
	_ = f.Close()
	defer os.Remove(name)
	return syscall.Setxattr(name, "user.costfed.probe", []byte("1"), 0) == nil
}
