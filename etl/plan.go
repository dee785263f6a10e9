package etl

import (
	"fmt"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/store"
)

// Mode is what a plan is for.
type Mode int

// Modes.
const (
	// ModeAgent plans a scheduled tick: missing windows inside retention, the
	// open window, and closed windows not yet final.
	ModeAgent Mode = iota
	// ModeBackfill plans the missing (and not yet final) windows of a range.
	ModeBackfill
	// ModeRebuild plans every window of a range, committed or not.
	ModeRebuild
)

// Reason says why a window is planned or skipped.
type Reason string

// Reasons.
const (
	ReasonMissing      Reason = "missing"
	ReasonOpen         Reason = "open"
	ReasonSettling     Reason = "closed, settling"
	ReasonNotFinal     Reason = "closed but not final"
	ReasonRequested    Reason = "requested"
	ReasonNoSourceData Reason = "no source data"
	// ReasonAssetsMissing: the window's allocation block is complete but
	// its asset block is missing or not complete (a store written before
	// assets existed); only the asset block is built.
	ReasonAssetsMissing Reason = "assets missing"
)

// Policy is one resolution's retention.
type Policy struct {
	Resolution store.Resolution
	// Retention bounds how far back the agent builds (ModeAgent only).
	Retention time.Duration
}

// PlanInput is everything Plan looks at. It holds no clock: Now is given.
type PlanInput struct {
	Mode        Mode
	Now         time.Time
	Policy      Policy
	SettleDelay time.Duration
	// OldestSample is the oldest sample the source holds (zero: unknown).
	// Windows that end at or before it are never built: they are reported
	// as having no source data, never written as empty blocks.
	OldestSample time.Time
	// From and To bound backfill and rebuild ([From, To), aligned outward).
	From, To time.Time
	// Committed is the resolution's index.
	Committed store.Index
	// Assets, when set, is the resolution's asset index: windows whose
	// allocation block needs nothing but whose asset block is missing (or
	// not complete) are planned assets-only (Task.AssetsOnly), in every
	// mode but rebuild.
	Assets *store.Index
	// OnlyAssets plans the asset pipeline alone (--pipeline assets): the
	// rules above apply to the asset index (Assets, empty when nil) and
	// every task is assets-only.
	OnlyAssets bool
}

// Task is one window to build.
type Task struct {
	Resolution store.Resolution
	Window     allocation.Window
	Reason     Reason
	// Final is true when the window has closed and settled: the block is
	// written complete and the agent will not rebuild it.
	Final bool
	// Partial is true when the source's oldest sample lies inside the window.
	Partial bool
	// AssetsOnly builds and commits the window's asset block alone.
	AssetsOnly bool
}

// Skip is a window Plan will not build, with why.
type Skip struct {
	Window allocation.Window
	Reason Reason
}

// Plan decides which windows of one resolution to build. It is a pure
// function of its input, table-tested without a source or a bucket.
//
//   - The open window (containing Now) is rebuilt on every agent tick.
//   - A closed window is rebuilt on every tick until SettleDelay has passed
//     after its end; then it is built once more, final, and never again by
//     the agent.
//   - Windows that end at or before the source's oldest sample are skipped
//     with ReasonNoSourceData, in every mode: an empty result must never
//     stand in for data the source no longer holds.
func Plan(in PlanInput) ([]Task, []Skip, error) {
	res := in.Policy.Resolution
	step := res.Duration()
	if step <= 0 {
		return nil, nil, fmt.Errorf("plan: unknown resolution %q", res)
	}
	from, to, err := span(in, step)
	if err != nil {
		return nil, nil, err
	}
	var tasks []Task
	var skips []Skip
	for s := from; s.Before(to); s = s.Add(step) {
		w := allocation.Window{Start: s, End: s.Add(step)}
		if !in.OldestSample.IsZero() && !w.End.After(in.OldestSample) {
			skips = append(skips, Skip{Window: w, Reason: ReasonNoSourceData})
			continue
		}
		if !w.Start.Before(in.Now) {
			continue // not started yet
		}
		final := !in.Now.Before(w.End.Add(in.SettleDelay))
		partial := !in.OldestSample.IsZero() && w.Start.Before(in.OldestSample)
		var assets store.Index
		if in.Assets != nil {
			assets = *in.Assets
		}
		if in.OnlyAssets {
			ae, ok := assets.Find(w.Start)
			if reason, build := decide(in.Mode, w, in.Now, final, ok, ae); build {
				tasks = append(tasks, Task{Resolution: res, Window: w, Reason: reason, Final: final, Partial: partial, AssetsOnly: true})
			}
			continue
		}
		entry, committed := in.Committed.Find(w.Start)
		reason, build := decide(in.Mode, w, in.Now, final, committed, entry)
		if !build {
			if ae, ok := assets.Find(w.Start); in.Assets != nil && (!ok || !ae.Complete) {
				tasks = append(tasks, Task{Resolution: res, Window: w, Reason: ReasonAssetsMissing, Final: final, Partial: partial, AssetsOnly: true})
			}
			continue
		}
		tasks = append(tasks, Task{
			Resolution: res, Window: w, Reason: reason, Final: final,
			Partial: partial,
		})
	}
	return tasks, skips, nil
}

// decide applies the per-window rules of Plan.
func decide(mode Mode, w allocation.Window, now time.Time, final, committed bool, e store.IndexEntry) (Reason, bool) {
	if mode == ModeRebuild {
		return ReasonRequested, true
	}
	switch {
	case !committed:
		return ReasonMissing, true
	case e.Complete:
		return "", false
	case w.Contains(now):
		return ReasonOpen, true
	case final:
		return ReasonNotFinal, true
	default:
		return ReasonSettling, true
	}
}

// span returns the aligned range of window starts to consider.
func span(in PlanInput, step time.Duration) (time.Time, time.Time, error) {
	switch in.Mode {
	case ModeAgent:
		if in.Policy.Retention < step {
			return time.Time{}, time.Time{}, fmt.Errorf("plan: %s retention %s is shorter than one window", in.Policy.Resolution, in.Policy.Retention)
		}
		to := in.Now.Truncate(step).Add(step) // through the open window
		return to.Add(-in.Policy.Retention).Truncate(step), to, nil
	case ModeBackfill, ModeRebuild:
		if !in.To.After(in.From) {
			return time.Time{}, time.Time{}, fmt.Errorf("plan: range end %s is not after start %s", in.To.UTC().Format(time.RFC3339), in.From.UTC().Format(time.RFC3339))
		}
		to := in.To.Truncate(step)
		if to.Before(in.To) {
			to = to.Add(step)
		}
		return in.From.Truncate(step), to, nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("plan: unknown mode %d", in.Mode)
}
