// Package blocktest makes varied, deterministic allocation rows for tests and
// benchmarks of the store and the federator: unicode labels, nil and empty maps,
// volumes, load balancers, GPUs, idle and unmounted rows.
package blocktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
)

// Rows returns n rows of cluster inside window w, deterministic in seed. Row
// names are unique and start with "<cluster>/".
func Rows(cluster string, w allocation.Window, n int, seed uint64) []allocation.Allocation {
	rng := rand.New(rand.NewPCG(seed, 7))
	span := w.Duration()
	rows := make([]allocation.Allocation, n)
	for i := range rows {
		ns := fmt.Sprintf("ns-%d", i%17)
		pod := fmt.Sprintf("pod-%d", i)
		start := w.Start.Add(time.Duration(rng.Int64N(int64(span/2/time.Millisecond))) * time.Millisecond)
		end := start.Add(time.Duration(rng.Int64N(int64(span/2/time.Second))) * time.Second)
		a := allocation.Allocation{
			Name: fmt.Sprintf("%s/node-%d/%s/%s/app", cluster, i%9, ns, pod),
			Properties: allocation.Properties{
				Cluster: cluster, Node: fmt.Sprintf("node-%d", i%9), Namespace: ns, Pod: pod, Container: "app",
				Controller: "web", ControllerKind: "deployment", ProviderID: "aws:///us-east-1a/i-0abc",
				Labels:      map[string]string{"app": "web", "team": "π-ünïcode-团队", "tier": fmt.Sprint(i % 3)},
				Annotations: map[string]string{},
			},
			Window: w, Start: start, End: end,
			CPUCoreHours: rng.Float64() * 10, CPUCoreRequestAverage: rng.Float64(), CPUCoreUsageAverage: rng.Float64(), CPUCoreUsageMax: rng.Float64() * 2,
			CPUCost: rng.Float64(), RAMByteHours: rng.Float64() * 1e12, RAMBytesRequestAverage: rng.Float64() * 1e9,
			RAMBytesUsageAverage: rng.Float64() * 1e9, RAMBytesUsageMax: rng.Float64() * 2e9, RAMCost: rng.Float64(),
			NetworkTransferBytes: float64(rng.IntN(1 << 30)), NetworkCost: rng.Float64() / 100,
			PriceSource: "metrics",
		}
		if i%4 == 0 {
			a.Properties.Services = []string{"web", "web-internal"}
			a.PVs = []allocation.PVAllocation{{Key: "cluster=" + cluster + ":name=pv-" + fmt.Sprint(i), ByteHours: rng.Float64() * 1e11, Cost: rng.Float64(), ProviderID: "vol-1"}}
		}
		if i%5 == 0 {
			a.Properties.Services = []string{}
			a.LoadBalancers = []allocation.LBAllocation{{Key: ns + "/web", Service: ns + "/web", Cost: rng.Float64(), Private: i%10 == 0, IP: "10.0.0.1", Hours: 3.5}}
			a.PVs = []allocation.PVAllocation{}
			a.Properties.NamespaceLabels = map[string]string{"env": "prod"}
		}
		if i%7 == 0 {
			a.GPUHours, a.GPURequestAverage, a.GPUCost = 4, 1, 3.8
			a.CPUCostAdjustment = -0.01
			a.PriceSource = "config"
		}
		rows[i] = a
	}
	if n > 2 {
		rows[0].Name = cluster + "/node-0/" + allocation.IdleSuffix
		rows[0].Properties = allocation.Properties{Cluster: cluster, Node: "node-0"}
		rows[1].Name = cluster + "/" + allocation.UnmountedSuffix + "/" + allocation.UnmountedSuffix + "/" + allocation.UnmountedSuffix
	}
	return rows
}

// Objects returns every object under prefix by name, for tests that compare
// whole bucket states. A 0-byte object reads as "" (objstore's S3 provider
// fails Get of one with io.EOF).
func Objects(ctx context.Context, bkt objstore.BucketReader, prefix string) (map[string]string, error) {
	out := map[string]string{}
	err := bkt.Iter(ctx, prefix, func(name string) error {
		rc, err := bkt.Get(ctx, name)
		if errors.Is(err, io.EOF) {
			out[name] = ""
			return nil
		}
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		out[name] = string(b)
		return err
	}, objstore.WithRecursiveIter())
	return out, err
}
