package accuracy

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/sim"
)

// Tolerances of issue 14, and the management fee the tests configure.
const (
	tolClusterAsset = 0.001 // every cluster's asset cost, every window
	tolNodeAsset    = 0.001 // every node's asset cost, every window
	tolDiskLBAsset  = 0.005 // every disk and load balancer, every window
	tolReconcile    = 1e-9  // node cost = allocated + idle, float rounding
	clusterFee      = 0.10  // $ per cluster-hour
)

// assetReport is the outcome of comparing computed assets with the truth.
type assetReport struct {
	cluster, node, disk, lb, mgmt *worst
	nodeStart                     *worst // seconds
	reconcileNode, reconcileClstr *worst // relative
	missing, extra                []string
	lateNodeWindows               int
	claimlessDisks                int
}

// compareAssets compares every window's assets with the truth and checks
// that they reconcile with the window's allocations. The fleet's cases: a
// node that joins mid-range (counted), a spot node whose price changes
// mid-range (every sim cluster has one; its node and cluster windows are
// compared like any other), and a volume without a claim (counted).
func compareAssets(tr *truth, comp []computed) *assetReport {
	r := &assetReport{
		cluster: newWorst("cluster asset cost", tolClusterAsset), node: newWorst("node asset cost", tolNodeAsset),
		disk: newWorst("disk asset cost", tolDiskLBAsset), lb: newWorst("load balancer asset cost", tolDiskLBAsset),
		mgmt: newWorst("cluster management cost", tolClusterAsset), nodeStart: newWorst("node asset start (s)", 0),
		reconcileNode:  newWorst("node cost = allocated + idle", tolReconcile),
		reconcileClstr: newWorst("cluster node cost = alloc + idle", tolReconcile),
	}
	key := func(w sim.Window, parts ...string) string {
		return w.Resolution + "|" + w.WindowStart.Format("01-02T15") + "|" + strings.Join(parts, "|")
	}
	want := map[string]float64{}
	nodes := map[string]*sim.NodeTruth{}
	clusters := map[string]float64{}
	for i, n := range tr.nodes {
		k := key(n.Window, n.Cluster, string(asset.KindNode), n.Node)
		want[k] = n.TotalCost
		nodes[k] = &tr.nodes[i]
	}
	for _, d := range tr.disks {
		want[key(d.Window, d.Cluster, string(asset.KindDisk), d.PersistentVolume)] = d.Cost
		if d.ClaimName == "" {
			r.claimlessDisks++
		}
	}
	for _, l := range tr.lbs {
		want[key(l.Window, l.Cluster, string(asset.KindLoadBalancer), l.Namespace+"/"+l.Service)] = l.Cost
	}
	for _, c := range tr.clusters {
		h := c.WindowEnd.Sub(c.WindowStart).Hours()
		want[key(c.Window, c.Cluster, string(asset.KindClusterManagement), "")] = clusterFee * h
		clusters[key(c.Window, c.Cluster)] = c.TotalCost + clusterFee*h
	}
	seen := map[string]bool{}
	for _, cw := range comp {
		idle := map[string]*allocation.Allocation{}
		alloc := map[string]*[3]float64{}
		for i := range cw.rows {
			a := &cw.rows[i]
			p := a.Properties
			switch {
			case a.IsIdle():
				idle[p.Cluster+"/"+p.Node] = a
			case !a.IsUnmounted():
				s := alloc[p.Cluster+"/"+p.Node]
				if s == nil {
					s = &[3]float64{}
					alloc[p.Cluster+"/"+p.Node] = s
				}
				s[0] += a.CPUCost
				s[1] += a.RAMCost
				s[2] += a.GPUCost
			}
		}
		sums := map[string]float64{}
		nodeCost, nodeAllocIdle := map[string]float64{}, map[string]float64{}
		for i := range cw.assets {
			a := &cw.assets[i]
			c := a.Properties.Cluster
			k := key(cw.win, c, string(a.Kind), a.Properties.Name)
			what := fmt.Sprintf("%s %s %s", cw.win.Resolution, cw.win.WindowStart.Format("01-02T15"), a.Key())
			if a.Kind != asset.KindNetwork {
				sums[key(cw.win, c)] += a.TotalCost()
			}
			w, ok := want[k]
			if !ok {
				if a.TotalCost() > 1e-9 {
					r.extra = append(r.extra, fmt.Sprintf("%s ($%.6g)", what, a.TotalCost()))
				}
				continue
			}
			seen[k] = true
			switch a.Kind {
			case asset.KindNode:
				r.node.add(what, a.TotalCost(), w)
				nt := nodes[k]
				r.nodeStart.addErr(what, math.Abs(a.Start.Sub(nt.Start).Seconds()), float64(a.Start.Unix()), float64(nt.Start.Unix()))
				if nt.Start.After(cw.win.WindowStart) {
					r.lateNodeWindows++
				}
				nk := c + "/" + a.Properties.Name
				id := idle[nk]
				if id == nil {
					r.missing = append(r.missing, what+": no idle row")
					continue
				}
				got := alloc[nk]
				if got == nil {
					got = &[3]float64{}
				}
				for j, pair := range [][3]float64{
					{a.CPUCost, a.CPUCostAllocated, id.CPUCost}, {a.RAMCost, a.RAMCostAllocated, id.RAMCost}, {a.GPUCost, a.GPUCostAllocated, id.GPUCost},
				} {
					r.reconcileNode.addErr(what+" "+[]string{"cpu", "ram", "gpu"}[j], relAbs(pair[0], pair[1]+pair[2]), pair[1]+pair[2], pair[0])
					r.reconcileNode.addErr(what+" allocated "+[]string{"cpu", "ram", "gpu"}[j], relAbs(pair[1], got[j]), got[j], pair[1])
				}
				nodeCost[c] += a.TotalCost()
				nodeAllocIdle[c] += got[0] + got[1] + got[2] + id.CPUCost + id.RAMCost + id.GPUCost
			case asset.KindDisk:
				r.disk.add(what, a.TotalCost(), w)
			case asset.KindLoadBalancer:
				r.lb.add(what, a.TotalCost(), w)
			case asset.KindClusterManagement:
				r.mgmt.add(what, a.TotalCost(), w)
			}
		}
		for k, sum := range sums {
			r.cluster.add(k, sum, clusters[k])
		}
		for c, v := range nodeCost {
			r.reconcileClstr.addErr(cw.win.Resolution+" "+cw.win.WindowStart.Format("01-02T15")+" "+c, relAbs(v, nodeAllocIdle[c]), nodeAllocIdle[c], v)
		}
	}
	for k := range want {
		if !seen[k] {
			r.missing = append(r.missing, k)
		}
	}
	return r
}

// relAbs is |a − b| relative to the larger, or absolute below a micro-dollar.
func relAbs(a, b float64) float64 {
	d := math.Abs(a - b)
	if m := max(math.Abs(a), math.Abs(b)); m > 1e-6 {
		return d / m
	}
	return d
}

func (r *assetReport) log(t *testing.T, title string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d truth assets missing, %d assets not in the truth; %d late-node windows, %d claimless-disk windows\n",
		title, len(r.missing), len(r.extra), r.lateNodeWindows, r.claimlessDisks)
	for _, w := range []*worst{r.cluster, r.node, r.disk, r.lb, r.mgmt, r.reconcileNode, r.reconcileClstr} {
		b.WriteString("  " + w.String() + fmt.Sprintf(" [relative %.2e]", w.err) + "\n")
	}
	fmt.Fprintf(&b, "  %-34s n=%-6d worst %.1f s (%s)\n", r.nodeStart.name, r.nodeStart.count, r.nodeStart.err, r.nodeStart.what)
	t.Log(b.String())
}

func (r *assetReport) assert(t *testing.T) {
	t.Helper()
	for _, w := range []*worst{r.cluster, r.node, r.disk, r.lb, r.mgmt, r.reconcileNode, r.reconcileClstr} {
		w.check(t)
	}
	if r.nodeStart.err > 0 {
		t.Errorf("node asset start off by %.1f s (%s)", r.nodeStart.err, r.nodeStart.what)
	}
	if len(r.missing) > 0 {
		t.Errorf("%d truth assets missing, e.g.:\n  %s", len(r.missing), strings.Join(head(r.missing, 10), "\n  "))
	}
	if len(r.extra) > 0 {
		t.Errorf("%d assets not in the truth, e.g.:\n  %s", len(r.extra), strings.Join(head(r.extra, 10), "\n  "))
	}
	if r.lateNodeWindows == 0 || r.claimlessDisks == 0 {
		t.Errorf("the fleet lacks a case: %d late-node windows, %d claimless disks", r.lateNodeWindows, r.claimlessDisks)
	}
}
