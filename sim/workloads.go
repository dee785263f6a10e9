package sim

import "fmt"

// Name tables for the simulated workloads.
var (
	daemonSetSpecs = []struct {
		name     string
		cpu, mem float64
	}{
		{"kube-proxy", 0.1, 128 * mib},
		{"fluent-bit", 0.05, 100 * mib},
	}
	deploymentNames  = []string{"frontend", "checkout", "cart", "search", "auth", "catalog", "payments", "gateway", "recommender", "notifications", "profile", "inventory"}
	statefulSetNames = []string{"postgres", "redis", "kafka", "elasticsearch", "zookeeper", "rabbitmq"}
	cronJobNames     = []string{"report", "cleanup", "backup", "sync", "rollup"}
	jobNames         = []string{"migrate-db", "train-model", "reindex", "import-catalog"}
	cronPeriods      = []int64{15 * 60, 30 * 60, 60 * 60}
	volumeSizes      = []float64{20 * gib, 50 * gib, 100 * gib}
	// storageClasses with their $/GiB-hour (a GB-month price / 730 h).
	storageClasses = []struct {
		name  string
		price float64
	}{
		{"gp3", 0.08 / 730},
		{"io2", 0.125 / 730},
	}
)

// lbHourly is the price of a LoadBalancer service, $/h.
const lbHourly = 0.025

// slotFor bounds the allocation max(request, usage) of containers built from
// specs by newContainer, whatever usage models they draw: usage peaks at
// 1.15 × 1.65 < 1.9 times the CPU request and 1.15 × 1.35 < 1.56 times the
// memory request. Every incarnation in a slot fits it.
func slotFor(specs []spec) slot {
	var s slot
	for _, sp := range specs {
		if sp.cpuReq > 0 {
			s.cpu += 1.9 * sp.cpuReq
		} else {
			s.cpu += 0.05 * 1.65
		}
		s.mem += 1.56*sp.memReq + 1
		s.gpus += int(sp.gpus)
	}
	return s
}

func (b *builder) containers(specs []spec) []container {
	cs := make([]container, len(specs))
	for i, sp := range specs {
		cs[i] = b.newContainer(sp)
	}
	return cs
}

func (b *builder) daemonSets() {
	ns := b.f.cfg.Namespaces[0].Name
	for d, ds := range daemonSetSpecs {
		specs := []spec{{name: ds.name, cpuReq: ds.cpu, memReq: ds.mem, cpuLimit: true}}
		hash := b.r.suffix(10)
		for i, nd := range b.c.nodes {
			s := slotFor(specs)
			if !b.fits(nd, s) {
				continue
			}
			b.reserve(nd, s)
			p := b.newPod(ns, ds.name+"-"+b.r.suffix(5), "DaemonSet", ds.name, "daemonset", ds.name,
				sortedLabels("label_app", ds.name, "label_controller_revision_hash", hash))
			start, end := b.longLived()
			b.add(p, i, start, end, end, b.containers(specs))
			if d == 0 && i == 0 {
				b.addRestarts(&p.containers[0], p, 2)
			}
		}
	}
}

// gpuNamespace is "ml" when configured, else the last namespace.
func (b *builder) gpuNamespace() string {
	for _, ns := range b.appNS {
		if ns == "ml" {
			return ns
		}
	}
	return b.appNS[len(b.appNS)-1]
}

// gpuDeployments puts one inference deployment on each GPU node, using half
// of its GPUs (rounded up), so GPU idle exists where a node has several.
func (b *builder) gpuDeployments() {
	ns := b.gpuNamespace()
	k := 0
	for i, nd := range b.c.nodes {
		if nd.gpus == 0 {
			continue
		}
		name := fmt.Sprintf("inference-%d", k)
		k++
		hash := b.r.suffix(10)
		rs := name + "-" + hash
		b.c.replicaSets = append(b.c.replicaSets, replicaSet{ns, rs, "Deployment", name})
		specs := []spec{{name: "server", cpuReq: 1, memReq: 4 * gib, cpuLimit: true, gpus: 1}}
		for j := 0; j < (nd.gpus+1)/2; j++ {
			s := slotFor(specs)
			if !b.fits(nd, s) {
				break
			}
			b.reserve(nd, s)
			p := b.newPod(ns, rs+"-"+b.r.suffix(5), "ReplicaSet", rs, "deployment", name,
				sortedLabels("label_app", name, "label_pod_template_hash", hash))
			start, end := b.longLived()
			b.add(p, i, start, end, end, b.containers(specs))
		}
	}
}

func indexedName(names []string, i int) string {
	name := names[i%len(names)]
	if i >= len(names) {
		name = fmt.Sprintf("%s-%d", name, i/len(names))
	}
	return name
}

// deployments: replicas through a replicaset, half with an istio sidecar;
// half are rolled out once mid-range (each replica replaced by a pod of a
// new replicaset a few seconds after the old one stops, on the same node);
// the first third get a LoadBalancer service; one has no CPU limit and one
// container restarts.
func (b *builder) deployments() {
	r := b.r
	n := b.density(b.f.cfg.Workloads.DeploymentsPerNode)
	nLB := max(1, n/3)
	for i := 0; i < n; i++ {
		name := indexedName(deploymentNames, i)
		ns := b.appNS[i%len(b.appNS)]
		replicas := 1 + r.intn(3)
		specs := []spec{{name: name, cpuReq: pick(r, cpuRequests), memReq: pick(r, memRequests), cpuLimit: i != 1}}
		if r.float() < 0.5 {
			specs = append(specs, spec{name: "istio-proxy", cpuReq: 0.05, memReq: 64 * mib, cpuLimit: true})
		}
		rollout := int64(-1)
		if r.float() < 0.5 {
			rollout = b.instant(0.2, 0.8)
		}
		hashes := []string{r.suffix(10), r.suffix(10)}
		b.c.replicaSets = append(b.c.replicaSets, replicaSet{ns, name + "-" + hashes[0], "Deployment", name})
		if rollout >= 0 {
			b.c.replicaSets = append(b.c.replicaSets, replicaSet{ns, name + "-" + hashes[1], "Deployment", name})
		}
		if i < nLB {
			b.addService(ns, name, name)
		}
		for j := 0; j < replicas; j++ {
			node, ok := b.place(slotFor(specs))
			if !ok {
				continue
			}
			start, end := b.longLived()
			first := b.deploymentPod(ns, name, hashes[0], node, specs, start, end)
			if rollout >= 0 {
				first.end = rollout + int64(j)*int64(r.between(20, 90))
				first.ksmEnd = first.end
				b.deploymentPod(ns, name, hashes[1], node, specs, first.end+1+r.int64n(15), end)
			}
			if i == 0 && j == 0 {
				b.addRestarts(&first.containers[0], first, 2)
			}
		}
	}
	if n > 0 {
		// A LoadBalancer whose selector matches no pod: its cost is unmounted.
		b.addService(b.appNS[0], "legacy-lb", "legacy-gone")
	}
}

func (b *builder) deploymentPod(ns, name, hash string, node int, specs []spec, start, end int64) *pod {
	rs := name + "-" + hash
	p := b.newPod(ns, rs+"-"+b.r.suffix(5), "ReplicaSet", rs, "deployment", name,
		sortedLabels("label_app", name, "label_pod_template_hash", hash))
	b.add(p, node, start, end, end, b.containers(specs))
	return p
}

func (b *builder) addService(ns, name, app string) {
	k := len(b.c.services)
	ip := fmt.Sprintf("203.0.113.%d", 10+k%240)
	if k == 0 {
		ip = fmt.Sprintf("10.100.%d.10", b.index%256) // an internal load balancer
	}
	b.c.services = append(b.c.services, service{
		namespace: ns, name: name, ingressIP: ip,
		selector: label{"label_app", app}, price: lbHourly,
	})
}

// statefulSets: two replicas each with its own PVC; the first replica of the
// first statefulset is deleted mid-range and recreated under the same name
// (new uid, same node, same PVC) after a gap of a few seconds to a minute
// and a half.
func (b *builder) statefulSets() {
	r := b.r
	n := b.density(b.f.cfg.Workloads.StatefulSetsPerNode)
	for i := 0; i < n; i++ {
		name := indexedName(statefulSetNames, i)
		ns := b.appNS[(i+2)%len(b.appNS)]
		specs := []spec{{name: name, cpuReq: pick(r, cpuRequests[1:]), memReq: pick(r, memRequests[2:]), cpuLimit: true}}
		for j := 0; j < 2; j++ {
			node, ok := b.place(slotFor(specs))
			if !ok {
				continue
			}
			pvcIdx := b.addVolume(ns, fmt.Sprintf("data-%s-%d", name, j), b.c.nodes[node].zone)
			podName := fmt.Sprintf("%s-%d", name, j)
			lbls := sortedLabels("label_app", name, "label_statefulset_kubernetes_io_pod_name", podName)
			start, end := b.longLived()
			if i == 0 && j == 0 {
				gone := b.instant(0.3, 0.7)
				p := b.newPod(ns, podName, "StatefulSet", name, "statefulset", name, lbls)
				p.pvcs = []int{pvcIdx}
				b.add(p, node, start, gone, gone, b.containers(specs))
				start = gone + 5 + r.int64n(85)
			}
			p := b.newPod(ns, podName, "StatefulSet", name, "statefulset", name, lbls)
			p.pvcs = []int{pvcIdx}
			b.add(p, node, start, end, end, b.containers(specs))
		}
	}
}

// addVolume adds a PVC bound to a new PV and returns the PVC's index.
func (b *builder) addVolume(ns, claim, zone string) int {
	r := b.r
	sc := pick(r, storageClasses)
	size := pick(r, volumeSizes)
	pvIdx, pvcIdx := len(b.c.pvs), len(b.c.pvcs)
	b.c.pvs = append(b.c.pvs, pv{
		name: "pvc-" + r.uid(), providerID: fmt.Sprintf("aws://%s/vol-0%016x", zone, r.next()>>1),
		storageClass: sc.name, bytes: size, price: sc.price, claim: pvcIdx,
	})
	b.c.pvcs = append(b.c.pvcs, pvc{namespace: ns, name: claim, storageClass: sc.name, pv: pvIdx, bytes: size})
	return pvcIdx
}

// cronJobs: each schedule runs a job (named after its scheduled minute, as
// the CronJob controller does) whose one pod starts a few seconds after the
// schedule and runs two to five scrape intervals plus some seconds. After it
// completes, kube-state-metrics keeps reporting the pod (running = 0) for
// a few more intervals.
func (b *builder) cronJobs() {
	r, iv := b.r, b.f.grid.iv
	n := b.density(b.f.cfg.Workloads.CronJobsPerNode)
	for i := 0; i < n; i++ {
		name := indexedName(cronJobNames, i)
		ns := b.appNS[(i+3)%len(b.appNS)]
		period := max(pick(r, cronPeriods), (8*iv+59)/60*60)
		offset := r.int64n(period/60) * 60
		specs := []spec{{name: "job", cpuReq: pick(r, cpuRequests[2:]), memReq: pick(r, memRequests[2:5]), cpuLimit: true}}
		node, ok := b.place(slotFor(specs))
		if !ok {
			continue
		}
		first := floorDiv(b.f.start-period-offset, period)*period + offset
		for sched := first; sched < b.f.end; sched += period {
			jobStart := sched + r.int64n(3)
			podStart := jobStart + 1 + r.int64n(20)
			podEnd := podStart + int64(2+r.intn(4))*iv + r.int64n(iv)
			ksmEnd := podEnd + int64(2+r.intn(4))*iv + r.int64n(iv)
			if ksmEnd <= b.f.start {
				continue
			}
			jobName := fmt.Sprintf("%s-%d", name, sched/60)
			b.c.jobs = append(b.c.jobs, job{namespace: ns, name: jobName, cronJob: name, start: jobStart, end: ksmEnd})
			p := b.newPod(ns, jobName+"-"+r.suffix(5), "Job", jobName, "cronjob", name,
				sortedLabels("label_app", name, "label_job_name", jobName))
			b.add(p, node, podStart, podEnd, ksmEnd, b.containers(specs))
		}
	}
}

// jobs: one-off jobs of 20 minutes to 4 hours starting at arbitrary seconds;
// some run past the end of the range.
func (b *builder) jobs() {
	r, iv := b.r, b.f.grid.iv
	n := b.density(b.f.cfg.Workloads.JobsPerNode)
	for i := 0; i < n; i++ {
		name := indexedName(jobNames, i)
		ns := b.appNS[(i+3)%len(b.appNS)]
		specs := []spec{{name: "main", cpuReq: pick(r, cpuRequests[3:]), memReq: pick(r, memRequests[3:]), cpuLimit: true}}
		node, ok := b.place(slotFor(specs))
		if !ok {
			continue
		}
		podStart := b.instant(0, 0.9)
		podEnd := podStart + max(2*iv+1+r.int64n(iv), int64(r.between(1200, 4*3600)))
		ksmEnd := podEnd + int64(2+r.intn(4))*iv + r.int64n(iv)
		b.c.jobs = append(b.c.jobs, job{namespace: ns, name: name, start: podStart - 1 - r.int64n(5), end: ksmEnd})
		p := b.newPod(ns, name+"-"+r.suffix(5), "Job", name, "job", name,
			sortedLabels("label_app", name, "label_job_name", name))
		b.add(p, node, podStart, podEnd, ksmEnd, b.containers(specs))
	}
}

// bareReplicaSet: a replicaset without an owner, whose two pods have no CPU
// request or limit (best-effort CPU).
func (b *builder) bareReplicaSet() {
	ns := b.appNS[(1)%len(b.appNS)]
	name := "legacy-worker"
	b.c.replicaSets = append(b.c.replicaSets, replicaSet{ns, name, "<none>", "<none>"})
	specs := []spec{{name: "worker", memReq: 128 * mib}}
	for j := 0; j < 2; j++ {
		node, ok := b.place(slotFor(specs))
		if !ok {
			continue
		}
		p := b.newPod(ns, name+"-"+b.r.suffix(5), "ReplicaSet", name, "replicaset", name,
			sortedLabels("label_app", name))
		start, end := b.longLived()
		b.add(p, node, start, end, end, b.containers(specs))
	}
}

// loneVolumes: a bound PVC no pod mounts, and a PV without a claim.
func (b *builder) loneVolumes() {
	zone := b.c.nodes[0].zone
	b.addVolume(b.appNS[2%len(b.appNS)], "orphaned-data", zone)
	r := b.r
	b.c.pvs = append(b.c.pvs, pv{
		name: "pvc-" + r.uid(), providerID: fmt.Sprintf("aws://%s/vol-0%016x", zone, r.next()>>1),
		storageClass: "gp3", bytes: 50 * gib, price: storageClasses[0].price, claim: -1,
	})
}
