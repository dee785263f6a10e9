package main

import (
	"fmt"
	"os"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/internal/faultbucket"
)

// Hidden environment variables for process-level tests (see
// kill_test.go). They are not part of the interface: no help text lists
// them, and nothing reads them unless they are set.
//
//   - COSTFED_TEST_NOW=RFC3339 pins the clock blocks record as their build
//     time and the federator's clock (retention, staleness), so two runs
//     write the same bytes.
//   - COSTFED_TEST_CRASH_WRITE=N[:before|mid|after] kills the process with
//     SIGKILL at its N-th bucket write (upload or delete, from 1): before
//     it starts, halfway through an upload's body, or after it returned
//     (the default): a `kill -9` at a known point instead of a timed one.
//   - COSTFED_TEST_WRITE_LOG=PATH appends one line per bucket write to PATH
//     ("N upload KEY"), so a test knows how many writes a run makes.
const (
	envTestNow        = "COSTFED_TEST_NOW"
	envTestCrashWrite = "COSTFED_TEST_CRASH_WRITE"
	envTestWriteLog   = "COSTFED_TEST_WRITE_LOG"
)

// testClock returns the clock COSTFED_TEST_NOW pins, or nil (the wall
// clock) when it is unset.
func testClock(lookup func(string) (string, bool)) (func() time.Time, error) {
	v, ok := lookup(envTestNow)
	if !ok || v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envTestNow, err)
	}
	return func() time.Time { return t }, nil
}

// withTestCrash wraps bkt in a faultbucket.Crasher when
// COSTFED_TEST_CRASH_WRITE or COSTFED_TEST_WRITE_LOG is set; otherwise it
// returns bkt as it is. The log file is left open until the process exits.
func withTestCrash(e *env, bkt objstore.Bucket) (objstore.Bucket, error) {
	lookup := lookupEnvFrom(e)
	point, crash := lookup(envTestCrashWrite)
	logPath, logged := lookup(envTestWriteLog)
	if !crash && !logged {
		return bkt, nil
	}
	c := &faultbucket.Crasher{Bucket: bkt, Kill: killSelf}
	if crash {
		n, w, err := faultbucket.ParseCrashPoint(point)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envTestCrashWrite, err)
		}
		c.N, c.When = n, w
	}
	if logged {
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envTestWriteLog, err)
		}
		c.Log = f
	}
	return c, nil
}

// killSelf ends the process as `kill -9` does: no deferred call, no flush.
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill()
	}
	select {} // the signal is on its way
}
