package sim

import "math"

const (
	gib = 1 << 30
	mib = 1 << 20
)

// grid holds the scrape grid: scrape k happens at k*iv seconds since the
// Unix epoch. Models are anchored at the range start so their values do not
// depend on how the output is split into blocks.
type grid struct {
	iv     int64 // scrape interval, seconds
	anchor int64 // range start, seconds
}

// cell returns the index of the scrape cell [k*iv, (k+1)*iv) holding t.
func (g grid) cell(t int64) int64 { return floorDiv(t, g.iv) }

// firstAt returns the index of the first scrape at or after t.
func (g grid) firstAt(t int64) int64 { return -floorDiv(-t, g.iv) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// counterModel is a cumulative quantity (CPU seconds, network bytes) in
// closed form, so any scrape's counter value is computed without walking
// the scrapes before it. Its rate in cell k is the difference of the
// cumulative function at the cell's two ends divided by the interval: a
// smooth daily-ish wave plus bounded noise around base.
//
// The rate is always within base*(1 ± (amp+noise)); amp+noise < 1 keeps it
// positive.
type counterModel struct {
	base   float64 // mean rate per second
	amp    float64 // wave amplitude as a fraction of base
	omega  float64 // wave angular frequency, radians per second
	phase  float64
	noise  float64 // noise amplitude as a fraction of base
	key    uint64  // noise hash key
	grid   grid
	ivSecs float64
}

func newCounterModel(g grid, r *rng, base, amp, noise float64) counterModel {
	periods := []float64{3600, 3 * 3600, 6 * 3600, 24 * 3600}
	return counterModel{
		base:   base,
		amp:    amp,
		omega:  2 * math.Pi / pick(r, periods),
		phase:  r.between(0, 2*math.Pi),
		noise:  noise,
		key:    r.next(),
		grid:   g,
		ivSecs: float64(g.iv),
	}
}

// cum is the cumulative function at scrape k, up to a constant.
func (m *counterModel) cum(k int64) float64 {
	tau := float64(k*m.grid.iv - m.grid.anchor)
	wave := -m.base * m.amp / m.omega * math.Cos(m.omega*tau+m.phase)
	return m.base*tau + wave + m.base*m.noise*m.ivSecs*hashUnit(m.key, k)
}

// rate is the constant rate over cell k.
func (m *counterModel) rate(k int64) float64 {
	return (m.cum(k+1) - m.cum(k)) / m.ivSecs
}

// consumed is the amount accumulated over [a, grid time of scrape k], for
// an object that started at start (start <= a <= k*iv), following the
// piecewise-constant model: cell j's rate over [j*iv, (j+1)*iv), and the
// first scrape's rate over the leading part [start, first scrape).
func (m *counterModel) consumed(start, a, k int64) float64 {
	tk := k * m.grid.iv
	if a >= tk {
		return 0
	}
	f := m.grid.firstAt(start)
	if a < f*m.grid.iv { // inside the leading part, before the first scrape
		return m.rate(f)*float64(f*m.grid.iv-a) + m.cum(k) - m.cum(f)
	}
	j := m.grid.cell(a)
	return m.rate(j)*float64((j+1)*m.grid.iv-a) + m.cum(k) - m.cum(j+1)
}

// gaugeModel is a level (working-set bytes): a wave plus noise around base,
// within base*(1 ± (amp+noise)), optionally rounded to integers.
type gaugeModel struct {
	base    float64
	amp     float64
	omega   float64
	phase   float64
	noise   float64
	key     uint64
	grid    grid
	integer bool
}

func newGaugeModel(g grid, r *rng, base, amp, noise float64, integer bool) gaugeModel {
	periods := []float64{2 * 3600, 4 * 3600, 12 * 3600, 24 * 3600}
	return gaugeModel{
		base:    base,
		amp:     amp,
		omega:   2 * math.Pi / pick(r, periods),
		phase:   r.between(0, 2*math.Pi),
		noise:   noise,
		key:     r.next(),
		grid:    g,
		integer: integer,
	}
}

// at is the value of cell k.
func (m *gaugeModel) at(k int64) float64 {
	tau := float64(k*m.grid.iv - m.grid.anchor)
	v := m.base * (1 + m.amp*math.Sin(m.omega*tau+m.phase) + m.noise*(2*hashUnit(m.key, k)-1))
	if m.integer {
		return math.Round(v)
	}
	return v
}
