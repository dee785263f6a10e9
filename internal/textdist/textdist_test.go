package textdist

import (
	"strings"
	"testing"
)

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"abc", "", 3}, {"filterNamespace", "filterNamespaces", 1},
		{"kitten", "sitting", 3}, {"step", "stpe", 2}, {strings.Repeat("a", MaxLen+1), "a", MaxLen},
	} {
		if got := EditDistance(c.a, c.b); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
