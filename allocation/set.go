package allocation

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Set is the rows of one window: one cluster's block, a combined block, or the
// answer to a query.
//
// Operations on a Set (Aggregate, Filter, Accumulate) return new values that share
// no memory with their inputs, and never write to their inputs.
type Set struct {
	Window      Window
	Allocations []Allocation
}

// NewSet returns a set of the given rows over w.
func NewSet(w Window, rows ...Allocation) Set {
	return Set{Window: w, Allocations: rows}
}

// Len is the number of rows.
func (s Set) Len() int { return len(s.Allocations) }

// TotalCost sums every row's TotalCost.
func (s Set) TotalCost() float64 {
	var t float64
	for i := range s.Allocations {
		t += s.Allocations[i].TotalCost()
	}
	return t
}

// Get returns the row named name, if there is one.
func (s Set) Get(name string) (Allocation, bool) {
	for i := range s.Allocations {
		if s.Allocations[i].Name == name {
			return s.Allocations[i], true
		}
	}
	return Allocation{}, false
}

// Clone returns a deep copy: nothing in it is shared with s.
func (s Set) Clone() Set {
	out := Set{Window: s.Window, Allocations: make([]Allocation, len(s.Allocations))}
	for i := range s.Allocations {
		out.Allocations[i] = s.Allocations[i].Clone()
	}
	return out
}

// Filter returns the rows f matches. It is a plain row filter: idle rows are kept
// or dropped by their own properties. Aggregate's Filter option instead scales
// idle to the share of the rows kept (see AggregateOptions).
func (s Set) Filter(f Filter) Set {
	out := Set{Window: s.Window, Allocations: make([]Allocation, 0, len(s.Allocations))}
	for i := range s.Allocations {
		if f.Matches(&s.Allocations[i]) {
			out.Allocations = append(out.Allocations, s.Allocations[i].Clone())
		}
	}
	return out
}

// Validate reports what is wrong with the set, if anything: a window that does
// not move forward, a row without a name, a row that ends before it starts, or two
// rows with one name.
func (s Set) Validate() error {
	if !s.Window.End.After(s.Window.Start) {
		return fmt.Errorf("set window %s: end is not after start", s.Window)
	}
	seen := make(map[string]int, len(s.Allocations))
	for i := range s.Allocations {
		a := &s.Allocations[i]
		if a.Name == "" {
			return fmt.Errorf("row %d has no name", i)
		}
		if a.End.Before(a.Start) {
			return fmt.Errorf("row %q ends (%s) before it starts (%s)", a.Name, a.End, a.Start)
		}
		if j, dup := seen[a.Name]; dup {
			return fmt.Errorf("rows %d and %d are both named %q", j, i, a.Name)
		}
		seen[a.Name] = i
	}
	return nil
}

// sortByName orders rows by name, so answers do not depend on input order.
func sortByName(rows []Allocation) {
	slices.SortFunc(rows, func(a, b Allocation) int { return strings.Compare(a.Name, b.Name) })
}

// Clone returns a deep copy of a: maps and slices are copied too.
func (a *Allocation) Clone() Allocation {
	c := *a
	c.Properties = a.Properties.Clone()
	c.PVs = slices.Clone(a.PVs)
	c.LoadBalancers = slices.Clone(a.LoadBalancers)
	return c
}

// Clone returns a deep copy of p.
func (p Properties) Clone() Properties {
	c := p
	c.Services = slices.Clone(p.Services)
	c.Labels = maps.Clone(p.Labels)
	c.Annotations = maps.Clone(p.Annotations)
	c.NamespaceLabels = maps.Clone(p.NamespaceLabels)
	c.NamespaceAnnotations = maps.Clone(p.NamespaceAnnotations)
	return c
}
