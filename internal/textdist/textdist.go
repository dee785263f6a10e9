// Package textdist measures how far apart two short strings are, for "did you
// mean …?" suggestions in config and API errors. It is stdlib-only so that
// packages on either side of DESIGN.md's import table can share it.
package textdist

// MaxLen bounds the strings compared: a longer one is MaxLen away from
// everything, so an attacker's 8 KiB parameter name costs nothing.
const MaxLen = 64

// EditDistance is the Levenshtein distance between a and b, in bytes, or
// MaxLen when either is longer than MaxLen.
func EditDistance(a, b string) int {
	if len(a) > MaxLen || len(b) > MaxLen {
		return MaxLen
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
