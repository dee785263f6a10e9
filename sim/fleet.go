package sim

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Fleet is a simulated fleet: its clusters, nodes, workloads and pods, all
// derived from a Config. Samples and ground truth are computed from it on
// demand, so a Fleet is small (proportional to the number of objects, not of
// samples). A Fleet is immutable and safe for concurrent use.
type Fleet struct {
	cfg      Config
	grid     grid
	start    int64 // range start, Unix seconds
	end      int64 // range end, Unix seconds
	clusters []*cluster
}

type label struct{ name, value string }

type cluster struct {
	id          string
	region      string
	nodes       []*node
	namespaces  []Namespace
	pods        []*pod // sorted by namespace, name, start
	replicaSets []replicaSet
	jobs        []job
	pvcs        []pvc
	pvs         []pv
	services    []service
}

type node struct {
	name, instanceType, providerID, zone, arch string
	cores, memBytes                            float64
	allocCores, allocMem                       float64
	gpus                                       int
	spot                                       bool
	// cpuPrice ($/core-h), ramPrice ($/GiB-h) and gpuPrice ($/GPU-h) hold
	// from the start; from scrape changeCell on they are multiplied by
	// changeFactor.
	cpuPrice, ramPrice, gpuPrice float64
	changeCell                   int64
	changeFactor                 float64
	labels                       []label
	// created is kube_node_created (Unix seconds); joined, when not 0, is
	// the instant inside the range the node joined (= created).
	created, joined int64
	// reserved capacity, for scheduling
	resCPU, resMem float64
	resGPU         int
}

// prices returns the prices in force over scrape cell k.
func (n *node) prices(k int64) (cpu, ram, gpu float64) {
	if k >= n.changeCell {
		f := n.changeFactor
		return n.cpuPrice * f, n.ramPrice * f, n.gpuPrice * f
	}
	return n.cpuPrice, n.ramPrice, n.gpuPrice
}

// life is when the node exists: [start, end+1) for nodes present over the
// whole range, else from when it joined.
func (n *node) life(f *Fleet) (int64, int64) {
	if n.joined != 0 {
		return n.joined, f.end + 1
	}
	return f.start, f.end + 1
}

// hourlyCost is node_total_hourly_cost over cell k.
func (n *node) hourlyCost(k int64) float64 {
	cpu, ram, gpu := n.prices(k)
	return n.cores*cpu + n.memBytes/gib*ram + float64(n.gpus)*gpu
}

type pod struct {
	namespace, name, uid string
	node                 int
	ownerKind, ownerName string // kube_pod_owner
	controllerKind       string // ground truth: deployment, statefulset, …
	controller           string
	labels               []label
	start, end           int64 // running over [start, end), Unix seconds
	ksmEnd               int64 // kube-state-metrics reports the pod over [start, ksmEnd); > end for pods that complete
	containers           []container
	pvcs                 []int // indexes into cluster.pvcs
	rx, tx               counterModel
}

type container struct {
	name           string
	cpuReq, cpuLim float64 // cores; 0 = not set
	memReq, memLim float64 // bytes; 0 = not set
	gpus           float64
	cpu            counterModel // CPU seconds
	mem            gaugeModel   // working-set bytes
	restarts       []int64      // restart instants, increasing, inside [start, end)
}

// cpuAlloc and memAlloc are the allocations max(request, usage) over cell k.
func (c *container) cpuAlloc(k int64) float64 { return math.Max(c.cpuReq, c.cpu.rate(k)) }
func (c *container) memAlloc(k int64) float64 { return math.Max(c.memReq, c.mem.at(k)) }

// lastReset returns the last restart at or before t, or start.
func (c *container) lastReset(start, t int64) int64 {
	r := start
	for _, x := range c.restarts {
		if x > t {
			break
		}
		r = x
	}
	return r
}

type replicaSet struct {
	namespace, name      string
	ownerKind, ownerName string // "<none>" for a bare replicaset
}

type job struct {
	namespace, name string
	cronJob         string // owner, "" for a plain job
	start, end      int64  // the object exists over [start, end)
}

type pvc struct {
	namespace, name, storageClass string
	pv                            int // index into cluster.pvs
	bytes                         float64
}

type pv struct {
	name, providerID, storageClass string
	bytes                          float64
	price                          float64 // $/GiB-h
	claim                          int     // index into cluster.pvcs, -1 = none
}

type service struct {
	namespace, name, ingressIP string
	selector                   label // label_<name>=value on pods
	price                      float64
}

// New builds the fleet described by cfg.
func New(cfg Config) (*Fleet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid simulation config: %w", err)
	}
	f := &Fleet{
		cfg:   cfg,
		start: cfg.Start.Unix(),
		end:   cfg.End.Unix(),
	}
	f.grid = grid{iv: int64(cfg.ScrapeInterval.Seconds()), anchor: f.start}
	for i := 0; i < cfg.Clusters; i++ {
		f.clusters = append(f.clusters, f.buildCluster(i))
	}
	return f, nil
}

// Config returns the config the fleet was built from.
func (f *Fleet) Config() Config { return f.cfg }

// Counts of the fleet's objects.
type Counts struct {
	Clusters, Nodes, Pods, Containers, PVCs, PVs, Services int
}

// Counts returns how many objects the fleet has (pods counted per
// incarnation: a pod recreated under the same name counts twice).
func (f *Fleet) Counts() Counts {
	var c Counts
	c.Clusters = len(f.clusters)
	for _, cl := range f.clusters {
		c.Nodes += len(cl.nodes)
		c.Pods += len(cl.pods)
		for _, p := range cl.pods {
			c.Containers += len(p.containers)
		}
		c.PVCs += len(cl.pvcs)
		c.PVs += len(cl.pvs)
		c.Services += len(cl.services)
	}
	return c
}

// builder builds one cluster.
type builder struct {
	f      *Fleet
	c      *cluster
	r      *rng
	index  int // the cluster's index in the fleet
	appNS  []string
	cursor int // first-fit start, rotated to spread replicas
}

var regions = []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}

func (f *Fleet) buildCluster(i int) *cluster {
	c := &cluster{
		id:         fmt.Sprintf("cluster-%02d", i+1),
		region:     regions[i%len(regions)],
		namespaces: f.cfg.Namespaces,
	}
	b := &builder{f: f, c: c, r: newRNG(f.cfg.Seed, 1, uint64(i)), index: i}
	for _, ns := range f.cfg.Namespaces[1:] {
		b.appNS = append(b.appNS, ns.Name)
	}
	b.nodes()
	b.daemonSets()
	b.gpuDeployments()
	b.statefulSets()
	b.cronJobs()
	b.jobs()
	b.bareReplicaSet()
	b.deployments()
	b.loneVolumes()
	b.lateNodes() // last: its random draws change nothing built before
	sort.SliceStable(c.pods, func(i, j int) bool {
		a, b := c.pods[i], c.pods[j]
		if a.namespace != b.namespace {
			return a.namespace < b.namespace
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.start < b.start
	})
	return c
}

// density returns the number of workloads for a per-node density, at least 1.
func (b *builder) density(perNode float64) int {
	n := int(math.Round(perNode * float64(len(b.c.nodes))))
	if n < 1 && perNode > 0 {
		n = 1
	}
	return n
}

// ---- nodes ----

func (b *builder) nodes() {
	cfg := b.f.cfg
	var plain, gpu []InstanceType
	for _, it := range cfg.InstanceTypes {
		if it.GPUs > 0 {
			gpu = append(gpu, it)
		} else {
			plain = append(plain, it)
		}
	}
	n := cfg.NodesPerCluster
	nGPU := int(math.Round(cfg.GPUNodeFraction * float64(n)))
	if nGPU == 0 && cfg.GPUNodeFraction > 0 && n >= 3 {
		nGPU = 1
	}
	if len(gpu) == 0 {
		nGPU = 0
	}
	changed := false
	for i := 0; i < n; i++ {
		var it InstanceType
		spot := false
		if i >= n-nGPU {
			it = gpu[(i-(n-nGPU))%len(gpu)]
		} else {
			it = plain[b.r.intn(len(plain))]
			spot = (i == 1) || b.r.float() < cfg.SpotFraction
		}
		nd := b.newNode(i, it, spot)
		// One spot node per cluster changes price mid-range (bonus realism:
		// a cost that depends on when a pod ran).
		if cells := (b.f.end - b.f.start) / b.f.grid.iv; spot && !changed && cells >= 3 {
			nd.changeCell = b.f.grid.cell(b.f.start) + cells/3 + b.r.int64n(cells/3)
			nd.changeFactor = 1.25
			changed = true
		}
		b.c.nodes = append(b.c.nodes, nd)
	}
}

func (b *builder) newNode(i int, it InstanceType, spot bool) *node {
	r := b.r
	zone := b.c.region + string(rune('a'+r.intn(3)))
	ci := b.index
	nd := &node{
		name:         fmt.Sprintf("ip-10-%d-%d-%d.%s.compute.internal", ci%256, (i+10)/256, (i+10)%256, regionDomain(b.c.region)),
		instanceType: it.Name,
		providerID:   fmt.Sprintf("aws:///%s/i-0%015x", zone, r.next()>>4),
		zone:         zone,
		arch:         it.Arch,
		cores:        it.Cores,
		memBytes:     it.MemoryBytes,
		gpus:         it.GPUs,
		spot:         spot,
		changeCell:   math.MaxInt64,
		changeFactor: 1,
		created:      b.f.start - 30*86400 + int64(i)*3600,
	}
	// Kubelet and system reservations, as EKS sizes them roughly.
	nd.allocCores = it.Cores - 0.08 - 0.01*it.Cores
	nd.allocMem = it.MemoryBytes - (255*mib + 0.06*it.MemoryBytes)
	nd.cpuPrice, nd.ramPrice, nd.gpuPrice = splitPrice(it, spot)
	capacity := "ON_DEMAND"
	if spot {
		capacity = "SPOT"
	}
	nd.labels = sortedLabels(
		"label_kubernetes_io_arch", it.Arch,
		"label_kubernetes_io_hostname", nd.name,
		"label_node_kubernetes_io_instance_type", it.Name,
		"label_topology_kubernetes_io_region", b.c.region,
		"label_topology_kubernetes_io_zone", zone,
		"label_eks_amazonaws_com_capacity_type", capacity,
	)
	return nd
}

// lateNodes adds the nodes that join mid-range (Config.LateNodes): plain
// on-demand machines, joining at an arbitrary second of the middle third.
func (b *builder) lateNodes() {
	var plain []InstanceType
	for _, it := range b.f.cfg.InstanceTypes {
		if it.GPUs == 0 {
			plain = append(plain, it)
		}
	}
	third := (b.f.end - b.f.start) / 3
	for j := 0; j < b.f.cfg.LateNodes && third > 0; j++ {
		nd := b.newNode(len(b.c.nodes), plain[b.r.intn(len(plain))], false)
		nd.joined = b.f.start + third + b.r.int64n(third)
		nd.created = nd.joined
		b.c.nodes = append(b.c.nodes, nd)
	}
}

func regionDomain(region string) string {
	if region == "us-east-1" {
		return "ec2"
	}
	return region
}

// Reference unit prices OpenCost uses to split a machine price between CPU
// and RAM: dollars per core-hour and per GiB-hour.
const (
	refCPUHourly = 0.031611
	refRAMHourly = 0.004237
)

// splitPrice derives $/core-h, $/GiB-h and $/GPU-h from a machine price: the
// GPUs take GPUHourly each (scaled like the machine for spot), the rest is
// split between CPU and RAM in the ratio of the reference unit prices.
func splitPrice(it InstanceType, spot bool) (cpu, ram, gpu float64) {
	total, gpu := it.OnDemandHourly, it.GPUHourly
	if spot {
		gpu *= it.SpotHourly / it.OnDemandHourly
		total = it.SpotHourly
	}
	rest := total - float64(it.GPUs)*gpu
	memGiB := it.MemoryBytes / gib
	scale := rest / (it.Cores*refCPUHourly + memGiB*refRAMHourly)
	return refCPUHourly * scale, refRAMHourly * scale, gpu
}

// ---- scheduling ----

// slot is what a replica reserves on its node for the whole range:
// max(request, peak usage) per resource, so allocations never exceed
// allocatable capacity.
type slot struct {
	cpu, mem float64
	gpus     int
}

// place finds a node with room for s, first fit from a rotating cursor;
// GPU slots go to GPU nodes only and others avoid them. ok is false when no
// node has room.
func (b *builder) place(s slot) (int, bool) {
	n := len(b.c.nodes)
	for j := 0; j < n; j++ {
		i := (b.cursor + j) % n
		nd := b.c.nodes[i]
		if (s.gpus > 0) != (nd.gpus > 0) {
			continue
		}
		if b.fits(nd, s) {
			b.reserve(nd, s)
			b.cursor = (i + 1) % n
			return i, true
		}
	}
	return 0, false
}

func (b *builder) fits(nd *node, s slot) bool {
	return nd.resCPU+s.cpu <= nd.allocCores && nd.resMem+s.mem <= nd.allocMem && nd.resGPU+s.gpus <= nd.gpus
}

func (b *builder) reserve(nd *node, s slot) {
	nd.resCPU += s.cpu
	nd.resMem += s.mem
	nd.resGPU += s.gpus
}

// ---- containers and pods ----

// spec describes a container to build.
type spec struct {
	name     string
	cpuReq   float64
	memReq   float64
	cpuLimit bool
	gpus     float64
}

var (
	cpuRequests = []float64{0.05, 0.1, 0.25, 0.5, 1}
	memRequests = []float64{64 * mib, 128 * mib, 256 * mib, 512 * mib, 1024 * mib, 2048 * mib}
)

// newContainer draws usage models for sp: CPU usage averages 30–115 % of
// the request and swings ±65 % around that, so it moves above and below
// the request; memory averages 50–115 % and swings ±35 %. Limits sit at
// twice the request, above any usage.
func (b *builder) newContainer(sp spec) container {
	g, r := b.f.grid, b.r
	c := container{name: sp.name, cpuReq: sp.cpuReq, memReq: sp.memReq, gpus: sp.gpus}
	cpuBase := sp.cpuReq * r.between(0.3, 1.15)
	if sp.cpuReq == 0 {
		cpuBase = r.between(0.01, 0.05)
	}
	c.cpu = newCounterModel(g, r, roundTo(cpuBase, 1e-4), 0.45, 0.2)
	c.mem = newGaugeModel(g, r, math.Round(sp.memReq*r.between(0.5, 1.15)), 0.25, 0.1, true)
	if sp.cpuLimit && sp.cpuReq > 0 {
		c.cpuLim = 2 * sp.cpuReq
	}
	c.memLim = 2 * sp.memReq
	return c
}

// newPod returns a pod with its network models; containers, node and times
// are set by the caller.
func (b *builder) newPod(ns, name, ownerKind, ownerName, ctrlKind, ctrl string, lbls []label) *pod {
	r := b.r
	rx := r.between(1e3, 5e5)
	return &pod{
		namespace: ns, name: name, uid: r.uid(),
		ownerKind: ownerKind, ownerName: ownerName,
		controllerKind: ctrlKind, controller: ctrl,
		labels: lbls,
		rx:     newCounterModel(b.f.grid, r, math.Round(rx), 0.5, 0.3),
		tx:     newCounterModel(b.f.grid, r, math.Round(rx*r.between(0.2, 1.2)), 0.5, 0.3),
	}
}

// longLived returns a lifetime that began before the range (at an arbitrary
// second up to ten days earlier) and lasts past its end.
func (b *builder) longLived() (start, end int64) {
	return b.f.start - 1 - b.r.int64n(10*86400), b.f.end + 1 + b.r.int64n(86400)
}

// instant returns an arbitrary second in [start+lo*span, start+hi*span).
func (b *builder) instant(lo, hi float64) int64 {
	span := float64(b.f.end - b.f.start)
	return b.f.start + int64(b.r.between(lo, hi)*span)
}

// addRestarts gives c n restarts at arbitrary seconds inside the pod's life
// within the range.
func (b *builder) addRestarts(c *container, p *pod, n int) {
	lo, hi := max(p.start, b.f.start)+1, min(p.end, b.f.end)-1
	if hi-lo < 2 {
		return
	}
	for i := 0; i < n; i++ {
		c.restarts = append(c.restarts, lo+b.r.int64n(hi-lo))
	}
	sort.Slice(c.restarts, func(i, j int) bool { return c.restarts[i] < c.restarts[j] })
}

// completes says the pod completes (a job pod: phase Succeeded) rather than
// being deleted: kube-state-metrics keeps reporting it after its end, with
// kube_pod_completion_time.
func (p *pod) completes() bool { return p.ksmEnd > p.end }

func (b *builder) add(p *pod, node int, start, end, ksmEnd int64, cs []container) {
	p.node, p.start, p.end, p.ksmEnd, p.containers = node, start, end, ksmEnd, cs
	b.c.pods = append(b.c.pods, p)
}

func sortedLabels(kv ...string) []label {
	ls := make([]label, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, label{kv[i], kv[i+1]})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].name < ls[j].name })
	return ls
}

// sanitize turns a Kubernetes label key into a Prometheus label name suffix
// as kube-state-metrics does.
func sanitize(k string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, k)
}
