//go:build !linux

package testinfra

// userXattrsWork is only probed on Linux; elsewhere versitygw keeps its
// metadata in a sidecar directory, which works everywhere.
func userXattrsWork(string) bool { return false }
