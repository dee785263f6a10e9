package federator

import (
	"errors"

	"github.com/costfed/costfed/store"
)

// HaltError is a condition a retry cannot fix, so the federator stops
// writing rather than retrying it every pass: an index of a version this
// build cannot read (the federator is older than what wrote it), a merge that
// would replace a combined window holding data with an empty one, or a
// retention that would expire more than retention.max_expire_share of the
// combined store at once.
//
// Once a pass halts, every later pass of the same Federator returns the same
// HaltError at once without touching the store (the schedule keeps ticking,
// the costfed_federator_halted gauge stays 1), until the process is
// restarted: after upgrading it, repairing the named object, or changing the
// configuration (or, for expiry, running once with --force). A new process
// (each run of --once) checks again from scratch.
type HaltError struct {
	// Reason names the class: "unknown index version", "would erase data",
	// "expire share".
	Reason string
	// Remedy says how to proceed.
	Remedy string
	Err    error
}

func (e *HaltError) Error() string {
	return "federator halted (" + e.Reason + "): " + e.Err.Error() + "; " + e.Remedy
}

// Unwrap exposes the cause (store.ErrIndexVersion, store.ErrWouldEraseData,
// store.ErrExpireShare).
func (e *HaltError) Unwrap() error { return e.Err }

// asHalt returns err as a *HaltError when it is of a halting class, and nil
// otherwise.
func asHalt(err error) *HaltError {
	var h *HaltError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &h):
		return h
	case errors.Is(err, store.ErrIndexVersion):
		return &HaltError{Reason: "unknown index version", Err: err,
			Remedy: "an index was written by a newer costfed: upgrade the federator (serve, then the federator, then the agents) and restart it"}
	case errors.Is(err, store.ErrWouldEraseData):
		return &HaltError{Reason: "would erase data", Err: err,
			Remedy: "a merge would replace a combined window that has costs with an empty one: check that window's cluster blocks (costfed status), then restart the federator"}
	case errors.Is(err, store.ErrExpireShare):
		return &HaltError{Reason: "expire share", Err: err,
			Remedy: "check the clock and retention; to expire anyway run `costfed federator --once --force`, or raise retention.max_expire_share, then restart the federator"}
	}
	return nil
}
