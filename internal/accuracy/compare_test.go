package accuracy

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/sim"
)

// Tolerances of issue 4.
const (
	tolClusterDaily   = 0.001 // every cluster's daily cost within 0.1 %
	tolNamespaceDaily = 0.005 // every namespace's daily cost within 0.5 %
	tolContainer1h    = 0.01  // every container that ran >= 1 h within 1 %
	minHoursForTol    = 3600  // seconds a container must run to be held to tolContainer1h
)

// worst tracks the largest relative (or absolute) error of a comparison.
type worst struct {
	name  string
	err   float64
	what  string
	got   float64
	want  float64
	count int
	fails []string
	tol   float64
}

func newWorst(name string, tol float64) *worst { return &worst{name: name, tol: tol} }

func relErr(got, want float64) float64 {
	if want == 0 {
		if got == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// add records a relative comparison.
func (w *worst) add(what string, got, want float64) {
	w.addErr(what, relErr(got, want), got, want)
}

func (w *worst) addErr(what string, e, got, want float64) {
	w.count++
	if e > w.err || w.what == "" {
		w.err, w.what, w.got, w.want = e, what, got, want
	}
	if w.tol > 0 && e > w.tol && len(w.fails) < 10 {
		w.fails = append(w.fails, fmt.Sprintf("%s: got %.6g want %.6g (err %.4g)", what, got, want, e))
	}
}

func (w *worst) String() string {
	if w.count == 0 {
		return fmt.Sprintf("%-34s no cases", w.name)
	}
	return fmt.Sprintf("%-34s n=%-6d worst %.4f %% (%s: got %.6g want %.6g)", w.name, w.count, 100*w.err, w.what, w.got, w.want)
}

// check fails the test when a tolerance was exceeded.
func (w *worst) check(t *testing.T) {
	t.Helper()
	if len(w.fails) > 0 {
		t.Errorf("%s: tolerance %.3f %% exceeded:\n  %s", w.name, 100*w.tol, strings.Join(w.fails, "\n  "))
	}
}

type rowKey struct {
	res, cluster, node, namespace, pod, container string
	start                                         time.Time
}

func truthKey(c *sim.ContainerTruth) rowKey {
	return rowKey{c.Resolution, c.Cluster, c.Node, c.Namespace, c.Pod, c.Container, c.WindowStart}
}

// report is the outcome of comparing computed windows with the truth.
type report struct {
	cluster, clusterHourly *worst
	namespace, nsHourly    *worst
	container1h            *worst
	containerAll           *worst
	startErr, endErr       *worst // seconds
	durationErr            *worst // seconds
	cpuCost, ramCost       *worst
	gpuCost, pvCost        *worst
	lbCost                 *worst
	idle                   *worst
	netRx, cpuUsage        *worst
	unmounted              *worst
	controllers            []string // rows whose controller differs from the truth's
	missing, extra         []string
	negativeIdle           []string
	warnings               []string
	queries                int
	samples                int64
	computeOnly            bool
}

// rowCost is what a comparison charges a row: its total cost, or with
// computeOnly its CPU, RAM and GPU cost (for methods that price nothing
// else).
func rowCost(a *allocation.Allocation, computeOnly bool) float64 {
	if computeOnly {
		return a.CPUCost + a.RAMCost + a.GPUCost
	}
	return a.TotalCost()
}

func truthCost(c *sim.ContainerTruth, computeOnly bool) float64 {
	if computeOnly {
		return c.CPUCost + c.RAMCost + c.GPUCost
	}
	return c.TotalCost
}

// compare compares computed windows with the truth; iv is the scrape
// interval (the bound on running-time errors). With computeOnly, costs are
// CPU + RAM + GPU only and a cluster's cost is its nodes' cost (containers +
// idle), as the classic method's comparison needs.
func compare(tr *truth, comp []computed, iv time.Duration, computeOnly bool) *report {
	r := &report{
		cluster: newWorst("cluster daily cost", tolClusterDaily), clusterHourly: newWorst("cluster hourly cost", 0),
		namespace: newWorst("namespace daily cost", tolNamespaceDaily), nsHourly: newWorst("namespace hourly cost", 0),
		container1h: newWorst("container cost (ran >= 1h)", tolContainer1h), containerAll: newWorst("container cost (all)", 0),
		startErr: newWorst("container start (s)", iv.Seconds()), endErr: newWorst("container end (s)", iv.Seconds()),
		durationErr: newWorst("container running time (s)", iv.Seconds()),
		cpuCost:     newWorst("container CPU cost (>= 1h)", 0), ramCost: newWorst("container RAM cost (>= 1h)", 0),
		gpuCost: newWorst("container GPU cost (>= 1h)", 0), pvCost: newWorst("container PV cost (>= 1h)", 0),
		lbCost: newWorst("container LB cost (>= 1h)", 0), idle: newWorst("node idle cost (daily)", 0),
		netRx: newWorst("container network rx bytes (>= 1h)", 0), cpuUsage: newWorst("container CPU usage avg (>= 1h)", 0),
		unmounted: newWorst("cluster unmounted cost (daily)", 0), computeOnly: computeOnly,
	}
	unmountedTruth := map[string]float64{}
	for _, u := range tr.unmounted {
		unmountedTruth[u.Resolution+"|"+u.Cluster+"|"+u.WindowStart.String()] += u.Cost
	}
	truthRows := map[rowKey]*sim.ContainerTruth{}
	for i := range tr.containers {
		truthRows[truthKey(&tr.containers[i])] = &tr.containers[i]
	}
	clusterTruth := map[string]float64{}
	for _, c := range tr.clusters {
		v := c.TotalCost
		if computeOnly {
			v = c.NodeCost
		}
		clusterTruth[c.Resolution+"|"+c.Cluster+"|"+c.WindowStart.String()] = v
	}
	nodeTruth := map[string]*sim.NodeTruth{}
	for i, n := range tr.nodes {
		nodeTruth[n.Resolution+"|"+n.Cluster+"|"+n.Node+"|"+n.WindowStart.String()] = &tr.nodes[i]
	}
	nsTruth := map[string]float64{}
	for _, c := range tr.containers {
		nsTruth[c.Resolution+"|"+c.Cluster+"|"+c.Namespace+"|"+c.WindowStart.String()] += truthCost(&c, computeOnly)
	}
	seen := map[rowKey]bool{}
	for _, cw := range comp {
		r.queries += cw.queries
		r.samples += cw.samples
		r.warnings = append(r.warnings, cw.warnings...)
		clusterSum, nsSum := map[string]float64{}, map[string]float64{}
		unmountedSum := map[string]float64{}
		for i := range cw.rows {
			a := &cw.rows[i]
			p := a.Properties
			if !computeOnly || !a.IsUnmounted() {
				clusterSum[p.Cluster] += rowCost(a, computeOnly)
			}
			switch {
			case a.IsIdle():
				if a.CPUCost < 0 || a.RAMCost < 0 || a.GPUCost < 0 {
					r.negativeIdle = append(r.negativeIdle, a.Name)
				}
				if nt := nodeTruth[cw.win.Resolution+"|"+p.Cluster+"|"+p.Node+"|"+cw.win.WindowStart.String()]; nt != nil && cw.win.Resolution == sim.Daily {
					r.idle.add(a.Name, a.TotalCost(), nt.IdleCost)
				}
				continue
			case a.IsUnmounted():
				unmountedSum[p.Cluster] += a.TotalCost()
				continue
			}
			cost := rowCost(a, computeOnly)
			nsSum[p.Cluster+"|"+p.Namespace] += cost
			k := rowKey{cw.win.Resolution, p.Cluster, p.Node, p.Namespace, p.Pod, p.Container, cw.win.WindowStart}
			ct := truthRows[k]
			if ct == nil {
				if cost > 1e-9 {
					r.extra = append(r.extra, fmt.Sprintf("%s %s (cost %.6g)", cw.win.Resolution, a.Name, cost))
				}
				continue
			}
			seen[k] = true
			what := fmt.Sprintf("%s %s %s", cw.win.Resolution, cw.win.WindowStart.Format("01-02T15"), a.Name)
			want := truthCost(ct, computeOnly)
			r.containerAll.add(what, cost, want)
			if ct.RunningSeconds >= minHoursForTol {
				r.container1h.add(what, cost, want)
				r.cpuCost.add(what, a.CPUCost, ct.CPUCost)
				r.ramCost.add(what, a.RAMCost, ct.RAMCost)
				if ct.GPUCost > 0 {
					r.gpuCost.add(what, a.GPUCost, ct.GPUCost)
				}
				if ct.PVCost > 0 {
					r.pvCost.add(what, a.PVCost(), ct.PVCost)
				}
				if ct.NetworkReceiveBytes > 0 {
					r.netRx.add(what, a.NetworkReceiveBytes, ct.NetworkReceiveBytes)
				}
				r.cpuUsage.add(what, a.CPUCoreUsageAverage, ct.CPUCoreUsageAverage)
				if ct.LoadBalancerCost > 0 {
					r.lbCost.add(what, a.LoadBalancerCost, ct.LoadBalancerCost)
				}
			}
			if p.ControllerKind != ct.ControllerKind || p.Controller != ct.Controller {
				r.controllers = append(r.controllers, fmt.Sprintf("%s: %s:%s, want %s:%s", what, p.ControllerKind, p.Controller, ct.ControllerKind, ct.Controller))
			}
			r.startErr.addErr(what, math.Abs(a.Start.Sub(ct.Start).Seconds()), float64(a.Start.Unix()), float64(ct.Start.Unix()))
			r.endErr.addErr(what, math.Abs(a.End.Sub(ct.End).Seconds()), float64(a.End.Unix()), float64(ct.End.Unix()))
			d, dt := a.End.Sub(a.Start).Seconds(), ct.End.Sub(ct.Start).Seconds()
			r.durationErr.addErr(what, math.Abs(d-dt), d, dt)
		}
		for c, sum := range clusterSum {
			want := clusterTruth[cw.win.Resolution+"|"+c+"|"+cw.win.WindowStart.String()]
			what := cw.win.Resolution + " " + cw.win.WindowStart.Format("01-02T15") + " " + c
			if cw.win.Resolution == sim.Daily {
				r.cluster.add(what, sum, want)
			} else {
				r.clusterHourly.add(what, sum, want)
			}
		}
		if cw.win.Resolution == sim.Daily && !computeOnly {
			for c := range clusterSum {
				want := unmountedTruth[cw.win.Resolution+"|"+c+"|"+cw.win.WindowStart.String()]
				r.unmounted.add(cw.win.WindowStart.Format("01-02")+" "+c, unmountedSum[c], want)
			}
		}
		for k, sum := range nsSum {
			parts := strings.SplitN(k, "|", 2)
			want := nsTruth[cw.win.Resolution+"|"+parts[0]+"|"+parts[1]+"|"+cw.win.WindowStart.String()]
			what := cw.win.Resolution + " " + cw.win.WindowStart.Format("01-02T15") + " " + k
			if cw.win.Resolution == sim.Daily {
				r.namespace.add(what, sum, want)
			} else {
				r.nsHourly.add(what, sum, want)
			}
		}
	}
	for k, ct := range truthRows {
		if !seen[k] && truthCost(ct, computeOnly) > 0 {
			r.missing = append(r.missing, fmt.Sprintf("%s %s %s/%s/%s/%s/%s (%ds, $%.6g)", k.res, k.start.Format("01-02T15"), k.cluster, k.node, k.namespace, k.pod, k.container, ct.RunningSeconds, ct.TotalCost))
		}
	}
	sort.Strings(r.missing)
	sort.Strings(r.extra)
	return r
}

func (r *report) all() []*worst {
	if r.computeOnly {
		return []*worst{r.cluster, r.clusterHourly, r.namespace, r.nsHourly, r.container1h, r.containerAll,
			r.cpuCost, r.ramCost, r.gpuCost, r.idle, r.startErr, r.endErr, r.durationErr}
	}
	return []*worst{r.cluster, r.clusterHourly, r.namespace, r.nsHourly, r.container1h, r.containerAll,
		r.cpuCost, r.ramCost, r.gpuCost, r.pvCost, r.lbCost, r.idle, r.unmounted, r.netRx, r.cpuUsage, r.startErr, r.endErr, r.durationErr}
}

// log writes the report; the running-time lines are in seconds, not %.
func (r *report) log(t *testing.T, title string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d queries, %d samples processed; %d truth rows missing, %d rows not in the truth\n",
		title, r.queries, r.samples, len(r.missing), len(r.extra))
	for _, w := range r.all() {
		s := w.String()
		if strings.HasSuffix(w.name, "(s)") {
			s = fmt.Sprintf("%-34s n=%-6d worst %.1f s (%s)", w.name, w.count, w.err, w.what)
		}
		b.WriteString("  " + s + "\n")
	}
	t.Log(b.String())
}

// assert fails the test on any exceeded tolerance, missing or extra row,
// negative idle or overage warning.
func (r *report) assert(t *testing.T) {
	t.Helper()
	for _, w := range []*worst{r.cluster, r.namespace, r.container1h, r.startErr, r.endErr, r.durationErr} {
		w.check(t)
	}
	if len(r.missing) > 0 {
		t.Errorf("%d truth rows missing, e.g.:\n  %s", len(r.missing), strings.Join(head(r.missing, 10), "\n  "))
	}
	if len(r.extra) > 0 {
		t.Errorf("%d rows not in the truth, e.g.:\n  %s", len(r.extra), strings.Join(head(r.extra, 10), "\n  "))
	}
	if len(r.controllers) > 0 {
		t.Errorf("%d rows with the wrong controller, e.g.:\n  %s", len(r.controllers), strings.Join(head(r.controllers, 10), "\n  "))
	}
	if len(r.negativeIdle) > 0 {
		t.Errorf("negative idle: %v", head(r.negativeIdle, 10))
	}
	if len(r.warnings) > 0 {
		t.Errorf("warnings: %v", head(r.warnings, 10))
	}
}

func head(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

// checkWindows asserts the structural invariants of every computed window.
func checkWindows(t *testing.T, comp []computed) {
	t.Helper()
	for _, cw := range comp {
		names := map[string]bool{}
		for _, a := range cw.rows {
			if names[a.Name] {
				t.Errorf("%s: duplicate row %s", cw.win.WindowStart, a.Name)
			}
			names[a.Name] = true
			if a.Start.UnixNano()%int64(time.Millisecond) != 0 || a.End.UnixNano()%int64(time.Millisecond) != 0 {
				t.Errorf("%s: row %s has sub-millisecond times", cw.win.WindowStart, a.Name)
			}
			if a.Start.Before(cw.win.WindowStart) || a.End.After(cw.win.WindowEnd) {
				t.Errorf("%s: row %s runs outside its window", cw.win.WindowStart, a.Name)
			}
			if !a.IsUnmounted() && a.PriceSource != allocation.PriceSourceMetrics {
				t.Errorf("%s: row %s has price source %q", cw.win.WindowStart, a.Name, a.PriceSource)
			}
		}
	}
}
