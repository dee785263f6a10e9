package federator

import (
	"cmp"
	"slices"
	"time"

	"github.com/costfed/costfed/store"
)

// ClusterIndex is what a pass knows of one cluster for one resolution.
type ClusterIndex struct {
	Cluster string
	Index   store.Index
	// Err is set when the cluster's index could not be read. Its windows are
	// then planned as if unchanged: the combined store keeps what it has of the
	// cluster rather than dropping it over a transient failure.
	// Clusters that are gone or denied are simply not passed to Plan.
	Err error
	// Damaged, when set, says why the cluster is damaged: its prefix holds
	// blocks but its index is missing or unreadable ("index missing", "index
	// unreadable"). Its combined rows are kept, and the windows of its blocks
	// (Blocks, from their keys) are merged without them only as incomplete,
	// with the reason in the lineage. A damaged cluster never leaves the
	// combined store; only a deny list or its own retention removes it.
	Damaged string
	Blocks  []store.BlockRef
}

// PlanOptions bound what is federated.
type PlanOptions struct {
	// Cutoff, when non-zero, ignores windows that end at or before it.
	Cutoff time.Time
	// RetainFrom, when non-zero, drops combined windows that end at or before
	// it, and does not merge such windows.
	RetainFrom time.Time
	// Damaged lists, by window start, combined blocks whose object is not
	// the content the combined index lists (missing, truncated, changed),
	// with the reason. Their windows are merged again, whatever their
	// inputs.
	Damaged map[int64]string
}

// WindowPlan is one combined window to (re)write.
type WindowPlan struct {
	Start, End int64
	// Inputs are the cluster blocks to merge, sorted by cluster. An input
	// whose cluster index could not be read carries the combined store's
	// current source for it, which the merge then takes from the combined
	// block.
	Inputs []Input
	// Reason says why the window is planned: "new", "inputs changed",
	// "combined block damaged: …".
	Reason string
	// Rewrite is set when the combined block is damaged: it is written
	// even when the merge gives the bytes the index lists.
	Rewrite bool
}

// Input is one cluster's block of a window as the plan sees it.
type Input struct {
	Cluster string
	Entry   store.IndexEntry
	// Carried is true when the cluster's index was unreadable or no longer
	// lists the window: the merge keeps the rows the combined block already
	// holds for the cluster.
	Carried bool
	// Previous is the combined store's current source for this cluster, if any.
	Previous *store.Source
	// Damage is set (with Carried) when the cluster is damaged, or its state
	// unknown and the combined store records it damaged: the reason to record
	// in the lineage. The merge keeps the previous rows and marks the block
	// incomplete.
	Damage string
}

// Plan decides, from index objects alone, which combined windows must be
// merged and which combined entries have expired. It is pure: no bucket, no
// clock. A window is merged when the set of (cluster, digest) inputs differs
// from the sources recorded in the combined index, which covers a new cluster,
// a new or rebuilt block and a removed or denied cluster alike. An input that
// was quarantined at its current digest does not trigger a merge again. A
// window whose combined block is damaged (opts.Damaged) is merged again.
func Plan(clusters []ClusterIndex, combined store.Index, opts PlanOptions) (merge []WindowPlan, expired []store.IndexEntry) {
	cutoff, retain := unixOrMin(opts.Cutoff), unixOrMin(opts.RetainFrom)
	keep := func(end int64) bool { return end > cutoff && end > retain }

	current := make(map[int64]store.IndexEntry, len(combined.Blocks))
	for _, e := range combined.Blocks {
		if end := e.End; end <= retain {
			expired = append(expired, e)
			continue
		}
		current[e.Start] = e
	}

	wanted := map[int64][]Input{}
	ends := map[int64]int64{}
	for _, c := range clusters {
		listed := map[int64]bool{}
		if c.Err == nil && c.Damaged == "" {
			for _, e := range c.Index.Blocks {
				listed[e.Start] = true
				if !keep(e.End) {
					continue
				}
				in := Input{Cluster: c.Cluster, Entry: e}
				if src, ok := findSource(current[e.Start].Sources, c.Cluster); ok {
					in.Previous = &src
				}
				wanted[e.Start] = append(wanted[e.Start], in)
				ends[e.Start] = e.End
			}
		}
		// Combined windows holding this cluster that its index does not list
		// (its index was unreadable or missing, or its own retention dropped
		// the block) keep the cluster's rows: only a cluster that is gone or
		// denied leaves the combined store.
		for start, e := range current {
			if listed[start] {
				continue
			}
			src, ok := findSource(e.Sources, c.Cluster)
			if !ok {
				continue
			}
			in := Input{Cluster: c.Cluster, Carried: true, Previous: &src}
			switch {
			case c.Damaged != "":
				in.Damage = c.Damaged
			case src.Damaged():
				// Recorded damaged, and the cluster's index (readable
				// again, or not read this pass) does not list the window:
				// it stays marked until the index lists it.
				in.Damage = src.Reason
			}
			wanted[start] = append(wanted[start], in)
			ends[start] = e.End
		}
		// The windows of a damaged cluster's blocks that the combined store
		// does not hold it in: merged without its rows, as incomplete.
		if c.Damaged != "" {
			for _, b := range c.Blocks {
				start, end := b.Window.Start.Unix(), b.Window.End.Unix()
				if !keep(end) || slices.ContainsFunc(wanted[start], func(in Input) bool { return in.Cluster == c.Cluster }) {
					continue
				}
				wanted[start] = append(wanted[start], Input{Cluster: c.Cluster, Carried: true, Damage: c.Damaged})
				ends[start] = end
			}
		}
	}

	for start, inputs := range wanted {
		slices.SortFunc(inputs, func(a, b Input) int { return cmp.Compare(a.Cluster, b.Cluster) })
		ce, exists := current[start]
		damage, damaged := opts.Damaged[start]
		switch {
		case exists && damaged:
			merge = append(merge, WindowPlan{Start: start, End: ends[start], Inputs: inputs, Reason: "combined block damaged: " + damage, Rewrite: true})
		case !exists:
			merge = append(merge, WindowPlan{Start: start, End: ends[start], Inputs: inputs, Reason: "new"})
		case !sameInputs(inputs, ce.Sources):
			merge = append(merge, WindowPlan{Start: start, End: ends[start], Inputs: inputs, Reason: "inputs changed"})
		}
	}
	// A combined window none of whose clusters is left (all removed or
	// denied) is rewritten empty rather than left claiming their costs.
	for start, ce := range current {
		if _, ok := wanted[start]; ok || !keep(ce.End) {
			continue
		}
		if damage, damaged := opts.Damaged[start]; damaged {
			merge = append(merge, WindowPlan{Start: start, End: ce.End, Reason: "combined block damaged: " + damage, Rewrite: true})
		} else if len(ce.Sources) > 0 {
			merge = append(merge, WindowPlan{Start: start, End: ce.End, Reason: "inputs changed"})
		}
	}
	slices.SortFunc(merge, func(a, b WindowPlan) int { return cmp.Compare(a.Start, b.Start) })
	slices.SortFunc(expired, func(a, b store.IndexEntry) int { return cmp.Compare(a.Start, b.Start) })
	return merge, expired
}

// sameInputs reports whether inputs are exactly what the combined block was
// merged from. A quarantined source matches an input at the quarantined digest.
// A damaged cluster matches a source recording the same damage, and a source
// recording damage matches nothing else, so a cluster that becomes damaged or
// recovers has its windows re-merged (keeping its rows).
func sameInputs(inputs []Input, sources []store.Source) bool {
	if len(inputs) != len(sources) {
		return false
	}
	for i, in := range inputs {
		s := sources[i]
		if s.Cluster != in.Cluster {
			return false
		}
		if in.Damage != "" || s.Damaged() {
			if !s.Damaged() || s.Reason != in.Damage {
				return false
			}
			continue
		}
		if in.Carried {
			continue
		}
		if in.Entry.SHA256 != s.SHA256 && in.Entry.SHA256 != s.Quarantined {
			return false
		}
	}
	return true
}

func findSource(srcs []store.Source, cluster string) (store.Source, bool) {
	i, ok := slices.BinarySearchFunc(srcs, cluster, func(s store.Source, c string) int { return cmp.Compare(s.Cluster, c) })
	if !ok {
		return store.Source{}, false
	}
	return srcs[i], true
}

func unixOrMin(t time.Time) int64 {
	if t.IsZero() {
		return -1 << 62
	}
	return t.Unix()
}
