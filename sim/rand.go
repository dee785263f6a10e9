package sim

import "math"

// rng is a small deterministic random source (SplitMix64). Every choice of
// the simulation comes from an rng seeded by the config's seed and a stream
// number, so adding a draw in one place never shifts the draws of another.
type rng struct{ state uint64 }

func newRNG(seed int64, stream ...uint64) *rng {
	s := uint64(seed) ^ 0x9e3779b97f4a7c15
	for _, x := range stream {
		s = mix64(s ^ mix64(x+0x632be59bd9b4e019))
	}
	return &rng{state: s}
}

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// int64n returns a number in [0, n); n must be positive.
func (r *rng) int64n(n int64) int64 { return int64(r.next() % uint64(n)) }

// between returns a number in [lo, hi).
func (r *rng) between(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// pick returns one element of xs.
func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// mix64 is SplitMix64's finaliser, a good 64-bit hash.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// hashUnit maps (key, k) to [0, 1), statelessly: the per-scrape noise of a
// value model.
func hashUnit(key uint64, k int64) float64 {
	return float64(mix64(key^mix64(uint64(k)))>>11) / (1 << 53)
}

// k8sAlphabet is the alphabet Kubernetes uses for generated name suffixes.
const k8sAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// suffix returns n characters of the Kubernetes name alphabet.
func (r *rng) suffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = k8sAlphabet[r.intn(len(k8sAlphabet))]
	}
	return string(b)
}

// uid returns a random UUID-formatted string.
func (r *rng) uid() string {
	const hex = "0123456789abcdef"
	a, b := r.next(), r.next()
	var out [36]byte
	j := 0
	for i := 0; i < 32; i++ {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			out[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = (a >> (4 * uint(i))) & 0xf
		} else {
			nib = (b >> (4 * uint(i-16))) & 0xf
		}
		out[j] = hex[nib]
		j++
	}
	return string(out[:])
}

// roundTo rounds x to a multiple of q.
func roundTo(x, q float64) float64 { return math.Round(x/q) * q }
