package allocation

import "sort"

// msPerHour converts millisecond durations to hours.
const msPerHour = 3_600_000.0

// lifeSpan is one stretch [s, e) of an object's life inside the window, in
// Unix milliseconds. open marks a stretch that goes on past the window's end
// (a sample at the window's end saw it); start is its exact start when
// known (kube_pod_start_time), else s.
type lifeSpan struct {
	s, e     int64
	open     bool
	start    int64
	hasStart bool
}

// lifeSpans is an object's life: sorted, non-overlapping spans.
type lifeSpans []lifeSpan

func (l lifeSpans) millis() int64 {
	var n int64
	for _, sp := range l {
		n += sp.e - sp.s
	}
	return n
}

func (l lifeSpans) bounds() (int64, int64) {
	if len(l) == 0 {
		return 0, 0
	}
	return l[0].s, l[len(l)-1].e
}

// piece is the part of a life one sample stands for: [a, b), the sample's
// index j, the index of the next sample of the same span (-1 if none) and
// whether j is the span's first sample.
type piece struct {
	a, b  int64
	j     int
	next  int
	first bool
	span  *lifeSpan
}

// eachPiece cuts life into pieces, one per sample that lies inside it: sample
// j stands for [t_j, t_{j+1}) clipped to its span, and the span's first sample
// also for the part of the span before it (sim/doc.go's model: the first
// scrape's value covers the leading part of a pod's life). Samples outside
// every span are ignored; a span without samples yields nothing.
func (l lifeSpans) eachPiece(ss []Sample, fn func(p piece)) {
	j := 0
	for si := range l {
		sp := &l[si]
		for j < len(ss) && ss[j].T < sp.s {
			j++
		}
		j0 := j
		for j < len(ss) && ss[j].T < sp.e {
			j++
		}
		j1 := j
		for k := j0; k < j1; k++ {
			p := piece{a: ss[k].T, b: sp.e, j: k, next: -1, first: k == j0, span: sp}
			if k == j0 {
				p.a = sp.s
			}
			if k+1 < j1 {
				p.b = ss[k+1].T
				p.next = k + 1
			} else if sp.open && k+1 < len(ss) {
				p.next = k + 1
			}
			if p.b > p.a {
				fn(p)
			}
		}
	}
}

// integral returns ∫ v dt over life in value-hours.
func (l lifeSpans) integral(ss []Sample) float64 {
	var sum float64
	l.eachPiece(ss, func(p piece) { sum += ss[p.j].V * float64(p.b-p.a) })
	return sum / msPerHour
}

// stepCurve is a piecewise-constant function of time over samples:
// ss[i].V over [ss[i].T, ss[i+1].T), the first value before the first
// sample, the last value after the last. cum, built on the first integral,
// holds its integral from ss[0].T in value-hours. The samples are shared,
// not copied.
type stepCurve struct {
	ss  []Sample
	cum []float64
}

func newStepCurve(ss []Sample) stepCurve { return stepCurve{ss: ss} }

// constCurve is v at all times, anchored at t0 (for precision).
func constCurve(t0 int64, v float64) stepCurve {
	return stepCurve{ss: []Sample{{T: t0, V: v}}, cum: []float64{0}}
}

func (c *stepCurve) empty() bool { return len(c.ss) == 0 }

// index returns the last i with ss[i].T <= x (0 when x is before the first
// sample), starting from hint.
func (c *stepCurve) index(x int64, hint *int) int {
	ss := c.ss
	n := len(ss)
	i := *hint
	if i < 0 || i >= n {
		i = 0
	}
	if ss[i].T <= x && (i+1 == n || ss[i+1].T > x) {
		return i
	}
	if i+1 < n && ss[i+1].T <= x && (i+2 >= n || ss[i+2].T > x) {
		*hint = i + 1
		return i + 1
	}
	k := sort.Search(n, func(k int) bool { return ss[k].T > x }) - 1
	if k < 0 {
		k = 0
	}
	*hint = k
	return k
}

// at returns the value at x.
func (c *stepCurve) at(x int64, hint *int) float64 {
	if c.empty() {
		return 0
	}
	return c.ss[c.index(x, hint)].V
}

// cumAt is the integral from the first sample to x.
func (c *stepCurve) cumAt(x int64, hint *int) float64 {
	if c.cum == nil {
		c.cum = make([]float64, len(c.ss))
		for i := 1; i < len(c.ss); i++ {
			c.cum[i] = c.cum[i-1] + c.ss[i-1].V*float64(c.ss[i].T-c.ss[i-1].T)/msPerHour
		}
	}
	i := c.index(x, hint)
	return c.cum[i] + c.ss[i].V*float64(x-c.ss[i].T)/msPerHour
}

// integral is ∫ over [a, b) in value-hours.
func (c *stepCurve) integral(a, b int64, hint *int) float64 {
	if c.empty() || b <= a {
		return 0
	}
	lo := c.cumAt(a, hint) // a first: hints move forward
	return c.cumAt(b, hint) - lo
}

// productIntegral is ∫ f·g over [a, b) in value-hours, walking f's steps.
func productIntegral(f, g *stepCurve, a, b int64) float64 {
	if f.empty() || g.empty() || b <= a {
		return 0
	}
	var sum float64
	hf, hg := 0, 0
	i := f.index(a, &hf)
	for x := a; x < b; {
		y := b
		if i+1 < len(f.ss) && f.ss[i+1].T < b {
			y = f.ss[i+1].T
		}
		if y > x {
			sum += f.ss[i].V * g.integral(x, y, &hg)
		}
		x = y
		if i+1 < len(f.ss) {
			i++
		}
	}
	return sum
}

// mergeSamples merges the samples of several series of one object into one
// time-ordered list; at equal times the last series wins.
func mergeSamples(lists [][]Sample) []Sample {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]Sample, 0, n)
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	w := 0
	for i := range out {
		if w > 0 && out[w-1].T == out[i].T {
			out[w-1] = out[i]
			continue
		}
		out[w] = out[i]
		w++
	}
	return out[:w]
}

// sampleLife derives a life from sample times alone, for objects with no
// start time and no running series (nodes, volumes, load balancers, pods
// kube-state-metrics missed): each sample stands for the step after it;
// a run of samples starts half a step before its first sample (unless at the
// window's start) and ends half a step after its last (unless a sample at the
// window's end shows it goes on). A gap of more than two steps splits runs.
func sampleLife(ss []Sample, ws, we, step int64) lifeSpans {
	var out lifeSpans
	for i := 0; i < len(ss); {
		j := i
		for j+1 < len(ss) && ss[j+1].T-ss[j].T <= 2*step {
			j++
		}
		sp := runSpan(ss[i].T, ss[j].T, ws, we, step)
		if sp.e > sp.s {
			out = append(out, sp)
		}
		i = j + 1
	}
	return out
}

// runSpan is the span of a run of samples from t1 to tn.
func runSpan(t1, tn, ws, we, step int64) lifeSpan {
	sp := lifeSpan{s: t1 - step/2, e: tn + step/2}
	if t1 <= ws {
		sp.s = ws
	}
	if tn >= we {
		sp.e, sp.open = we, true
	}
	sp.s = max(sp.s, ws)
	sp.e = min(sp.e, we)
	sp.start = sp.s
	return sp
}
