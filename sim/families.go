package sim

// family is one metric family and how to emit it for a cluster.
type family struct {
	name string // counters' samples are name+"_total"
	typ  metricType
	help string
	emit func(e *emitter, c *cluster) error
}

// families lists every metric the simulation writes, in output order. The
// names and labels are those of kube-state-metrics v2, cAdvisor (through the
// kubelet) and the OpenCost cost exporter; see doc.go.
var families = []family{
	// kube-state-metrics: pods and containers.
	{"kube_pod_labels", gauge, "Kubernetes labels converted to Prometheus labels.", emitPodLabels},
	{"kube_pod_owner", gauge, "Information about the Pod's owner.", emitPodOwner},
	{"kube_pod_start_time", gauge, "Start time in unix timestamp for a pod.", emitPodStartTime},
	{"kube_pod_completion_time", gauge, "Completion time in unix timestamp for a pod.", emitPodCompletionTime},
	{"kube_pod_container_status_running", gauge, "Describes whether the container is currently in running state.", emitContainerRunning},
	{"kube_pod_container_status_restarts", counter, "The number of container restarts per container.", emitContainerRestarts},
	{"kube_pod_container_resource_requests", gauge, "The number of requested request resource by a container.", emitRequests},
	{"kube_pod_container_resource_limits", gauge, "The number of requested limit resource by a container.", emitLimits},
	// kube-state-metrics: nodes, namespaces, owners, volumes.
	{"kube_node_labels", gauge, "Kubernetes labels converted to Prometheus labels.", emitNodeLabels},
	{"kube_node_created", gauge, "Unix creation timestamp.", nodeScalar(func(n *node) float64 { return float64(n.created) })},
	{"kube_node_status_capacity", gauge, "The capacity for different resources of a node.", nodeResources(false)},
	{"kube_node_status_allocatable", gauge, "The allocatable for different resources of a node.", nodeResources(true)},
	{"kube_node_status_capacity_cpu_cores", gauge, "The total CPU resources of the node.", nodeScalar(func(n *node) float64 { return n.cores })},
	{"kube_node_status_capacity_memory_bytes", gauge, "The total memory resources of the node.", nodeScalar(func(n *node) float64 { return n.memBytes })},
	{"kube_node_status_allocatable_cpu_cores", gauge, "The CPU resources of a node that are available for scheduling.", nodeScalar(func(n *node) float64 { return n.allocCores })},
	{"kube_node_status_allocatable_memory_bytes", gauge, "The memory resources of a node that are available for scheduling.", nodeScalar(func(n *node) float64 { return n.allocMem })},
	{"kube_namespace_labels", gauge, "Kubernetes labels converted to Prometheus labels.", emitNamespaceLabels},
	{"kube_replicaset_owner", gauge, "Information about the ReplicaSet's owner.", emitReplicaSetOwner},
	{"kube_job_owner", gauge, "Information about the Job's owner.", emitJobOwner},
	{"kube_persistentvolumeclaim_info", gauge, "Information about persistent volume claim.", emitPVCInfo},
	{"kube_persistentvolumeclaim_resource_requests_storage_bytes", gauge, "The capacity of storage requested by the persistent volume claim.", emitPVCRequest},
	{"kube_persistentvolume_capacity_bytes", gauge, "Persistentvolume capacity in bytes.", emitPVCapacity},
	{"kube_persistentvolume_info", gauge, "Information about persistentvolume.", emitPVInfo},
	// cAdvisor.
	{"container_cpu_usage_seconds", counter, "Cumulative cpu time consumed in seconds.", emitCPUUsage},
	{"container_memory_working_set_bytes", gauge, "Current working set in bytes.", emitWorkingSet},
	{"container_network_receive_bytes", counter, "Cumulative count of bytes received.", emitNetwork(true)},
	{"container_network_transmit_bytes", counter, "Cumulative count of bytes transmitted.", emitNetwork(false)},
	// OpenCost cost exporter.
	{"node_cpu_hourly_cost", gauge, "node_cpu_hourly_cost hourly cost for each cpu on this node", nodePrice(func(n *node, k int64) float64 { c, _, _ := n.prices(k); return c })},
	{"node_ram_hourly_cost", gauge, "node_ram_hourly_cost hourly cost for each gb of ram on this node", nodePrice(func(n *node, k int64) float64 { _, r, _ := n.prices(k); return r })},
	{"node_gpu_hourly_cost", gauge, "node_gpu_hourly_cost hourly cost for each gpu on this node", nodePrice(func(n *node, k int64) float64 { _, _, g := n.prices(k); return g })},
	{"node_gpu_count", gauge, "node_gpu_count count of gpu on this node", nodePrice(func(n *node, _ int64) float64 { return float64(n.gpus) })},
	{"node_total_hourly_cost", gauge, "node_total_hourly_cost Total node cost per hour", nodePrice(func(n *node, k int64) float64 { return n.hourlyCost(k) })},
	{"kubecost_node_is_spot", gauge, "kubecost_node_is_spot Cloud provider info about node preemptibility", nodePrice(func(n *node, _ int64) float64 { return boolValue(n.spot) })},
	{"pv_hourly_cost", gauge, "pv_hourly_cost Cost per GB per hour on a persistent disk", emitPVPrice},
	{"container_cpu_allocation", gauge, "container_cpu_allocation Percent of a single CPU used in a minute", emitCPUAllocation},
	{"container_memory_allocation_bytes", gauge, "container_memory_allocation_bytes Bytes of RAM used", emitMemoryAllocation},
	{"container_gpu_allocation", gauge, "container_gpu_allocation GPU used", emitGPUAllocation},
	{"pod_pvc_allocation", gauge, "pod_pvc_allocation Bytes used by a PVC attached to a pod", emitPodPVC},
	{"kubecost_load_balancer_cost", gauge, "kubecost_load_balancer_cost Hourly cost of load balancer", emitLBCost},
	{"service_selector_labels", gauge, "service_selector_labels Service Selector Labels", emitServiceSelectors},
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ---- kube-state-metrics: pods ----

func emitPodLabels(e *emitter, c *cluster) error {
	for _, p := range c.pods {
		ls := withLabels(e.labels("namespace", p.namespace, "pod", p.name, "uid", p.uid), p.labels)
		if err := e.series("kube_pod_labels", ls, p.start, p.ksmEnd, constant(1)); err != nil {
			return err
		}
	}
	return nil
}

func emitPodOwner(e *emitter, c *cluster) error {
	for _, p := range c.pods {
		ls := e.labels("namespace", p.namespace, "pod", p.name, "uid", p.uid,
			"owner_kind", p.ownerKind, "owner_name", p.ownerName, "owner_is_controller", "true")
		if err := e.series("kube_pod_owner", ls, p.start, p.ksmEnd, constant(1)); err != nil {
			return err
		}
	}
	return nil
}

func emitPodStartTime(e *emitter, c *cluster) error {
	for _, p := range c.pods {
		ls := e.labels("namespace", p.namespace, "pod", p.name, "uid", p.uid)
		if err := e.series("kube_pod_start_time", ls, p.start, p.ksmEnd, constant(float64(p.start))); err != nil {
			return err
		}
	}
	return nil
}

// emitPodCompletionTime writes the exact end of pods that complete (job
// pods), from the first scrape at or after it for as long as
// kube-state-metrics reports the completed pod. Deleted pods have none.
func emitPodCompletionTime(e *emitter, c *cluster) error {
	for _, p := range c.pods {
		if !p.completes() {
			continue
		}
		ls := e.labels("namespace", p.namespace, "pod", p.name, "uid", p.uid)
		if err := e.series("kube_pod_completion_time", ls, p.end, p.ksmEnd, constant(float64(p.end))); err != nil {
			return err
		}
	}
	return nil
}

// eachContainer calls fn for every container of every pod.
func eachContainer(c *cluster, fn func(p *pod, ct *container) error) error {
	for _, p := range c.pods {
		for i := range p.containers {
			if err := fn(p, &p.containers[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func emitContainerRunning(e *emitter, c *cluster) error {
	iv := e.f.grid.iv
	return eachContainer(c, func(p *pod, ct *container) error {
		ls := e.labels("namespace", p.namespace, "pod", p.name, "uid", p.uid, "container", ct.name)
		return e.series("kube_pod_container_status_running", ls, p.start, p.ksmEnd, func(k int64) float64 {
			return boolValue(k*iv < p.end)
		})
	})
}

func emitContainerRestarts(e *emitter, c *cluster) error {
	iv := e.f.grid.iv
	return eachContainer(c, func(p *pod, ct *container) error {
		ls := e.labels("namespace", p.namespace, "pod", p.name, "uid", p.uid, "container", ct.name)
		return e.series("kube_pod_container_status_restarts_total", ls, p.start, p.ksmEnd, func(k int64) float64 {
			n := 0
			for _, r := range ct.restarts {
				if r <= k*iv {
					n++
				}
			}
			return float64(n)
		})
	})
}

// resourceSeries writes one requests or limits series per resource set.
func resourceSeries(e *emitter, metric string, p *pod, ct *container, cpu, mem float64) error {
	node := e.c.nodes[p.node].name
	res := []struct {
		resource, unit string
		v              float64
	}{{"cpu", "core", cpu}, {"memory", "byte", mem}, {"nvidia_com_gpu", "integer", ct.gpus}}
	for _, r := range res {
		if r.v <= 0 {
			continue
		}
		ls := e.labels("namespace", p.namespace, "pod", p.name, "uid", p.uid, "container", ct.name,
			"node", node, "resource", r.resource, "unit", r.unit)
		if err := e.series(metric, ls, p.start, p.ksmEnd, constant(r.v)); err != nil {
			return err
		}
	}
	return nil
}

func emitRequests(e *emitter, c *cluster) error {
	return eachContainer(c, func(p *pod, ct *container) error {
		return resourceSeries(e, "kube_pod_container_resource_requests", p, ct, ct.cpuReq, ct.memReq)
	})
}

func emitLimits(e *emitter, c *cluster) error {
	return eachContainer(c, func(p *pod, ct *container) error {
		return resourceSeries(e, "kube_pod_container_resource_limits", p, ct, ct.cpuLim, ct.memLim)
	})
}

// ---- kube-state-metrics: nodes, namespaces, owners, volumes ----

func emitNodeLabels(e *emitter, c *cluster) error {
	for _, n := range c.nodes {
		s, end := n.life(e.f)
		ls := withLabels(e.labels("node", n.name), n.labels)
		if err := e.series("kube_node_labels", ls, s, end, constant(1)); err != nil {
			return err
		}
	}
	return nil
}

// podsPerNode is the kubelet's default maximum number of pods.
const podsPerNode = 110

func nodeResources(allocatable bool) func(e *emitter, c *cluster) error {
	metric := "kube_node_status_capacity"
	if allocatable {
		metric = "kube_node_status_allocatable"
	}
	return func(e *emitter, c *cluster) error {
		for _, n := range c.nodes {
			s, end := n.life(e.f)
			cpu, mem := n.cores, n.memBytes
			if allocatable {
				cpu, mem = n.allocCores, n.allocMem
			}
			res := []struct {
				resource, unit string
				v              float64
			}{{"cpu", "core", cpu}, {"memory", "byte", mem}, {"pods", "integer", podsPerNode}, {"nvidia_com_gpu", "integer", float64(n.gpus)}}
			for _, r := range res {
				if r.v <= 0 {
					continue
				}
				ls := e.labels("node", n.name, "resource", r.resource, "unit", r.unit)
				if err := e.series(metric, ls, s, end, constant(r.v)); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// nodeScalar writes one v1 node gauge named as its family.
func nodeScalar(val func(n *node) float64) func(e *emitter, c *cluster) error {
	return func(e *emitter, c *cluster) error {
		for _, n := range c.nodes {
			s, end := n.life(e.f)
			if err := e.series(e.metric, e.labels("node", n.name), s, end, constant(val(n))); err != nil {
				return err
			}
		}
		return nil
	}
}

func emitNamespaceLabels(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, ns := range c.namespaces {
		kv := []string{"namespace", ns.Name}
		for k, v := range ns.Labels {
			kv = append(kv, "label_"+sanitize(k), v)
		}
		if err := e.series("kube_namespace_labels", e.labels(kv...), s, end, constant(1)); err != nil {
			return err
		}
	}
	return nil
}

func ownerIsController(kind string) string {
	if kind == "<none>" {
		return "<none>"
	}
	return "true"
}

func emitReplicaSetOwner(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, rs := range c.replicaSets {
		ls := e.labels("namespace", rs.namespace, "replicaset", rs.name, "owner_kind", rs.ownerKind,
			"owner_name", rs.ownerName, "owner_is_controller", ownerIsController(rs.ownerKind))
		if err := e.series("kube_replicaset_owner", ls, s, end, constant(1)); err != nil {
			return err
		}
	}
	return nil
}

func emitJobOwner(e *emitter, c *cluster) error {
	for _, j := range c.jobs {
		kind, name := "CronJob", j.cronJob
		if name == "" {
			kind, name = "<none>", "<none>"
		}
		ls := e.labels("namespace", j.namespace, "job_name", j.name, "owner_kind", kind,
			"owner_name", name, "owner_is_controller", ownerIsController(kind))
		if err := e.series("kube_job_owner", ls, j.start, j.end, constant(1)); err != nil {
			return err
		}
	}
	return nil
}

func emitPVCInfo(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, v := range c.pvcs {
		ls := e.labels("namespace", v.namespace, "persistentvolumeclaim", v.name,
			"storageclass", v.storageClass, "volumename", c.pvs[v.pv].name)
		if err := e.series("kube_persistentvolumeclaim_info", ls, s, end, constant(1)); err != nil {
			return err
		}
	}
	return nil
}

func emitPVInfo(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, v := range c.pvs {
		ls := e.labels("persistentvolume", v.name, "storageclass", v.storageClass)
		if err := e.series("kube_persistentvolume_info", ls, s, end, constant(1)); err != nil {
			return err
		}
	}
	return nil
}

func emitPVCRequest(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, v := range c.pvcs {
		ls := e.labels("namespace", v.namespace, "persistentvolumeclaim", v.name)
		if err := e.series("kube_persistentvolumeclaim_resource_requests_storage_bytes", ls, s, end, constant(v.bytes)); err != nil {
			return err
		}
	}
	return nil
}

func emitPVCapacity(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, v := range c.pvs {
		if err := e.series("kube_persistentvolume_capacity_bytes", e.labels("persistentvolume", v.name), s, end, constant(v.bytes)); err != nil {
			return err
		}
	}
	return nil
}

// ---- cAdvisor ----

func (e *emitter) containerLabels(p *pod, ct *container) []label {
	node := e.c.nodes[p.node].name
	return e.labels("namespace", p.namespace, "pod", p.name, "container", ct.name, "instance", node, "node", node)
}

// emitCPUUsage writes the CPU counter: CPU seconds since the container's
// last (re)start, so it drops to a small value after a restart.
func emitCPUUsage(e *emitter, c *cluster) error {
	iv := e.f.grid.iv
	return eachContainer(c, func(p *pod, ct *container) error {
		return e.series("container_cpu_usage_seconds_total", e.containerLabels(p, ct), p.start, p.end, func(k int64) float64 {
			return ct.cpu.consumed(p.start, ct.lastReset(p.start, k*iv), k)
		})
	})
}

func emitWorkingSet(e *emitter, c *cluster) error {
	return eachContainer(c, func(p *pod, ct *container) error {
		return e.series("container_memory_working_set_bytes", e.containerLabels(p, ct), p.start, p.end, ct.mem.at)
	})
}

func emitNetwork(receive bool) func(e *emitter, c *cluster) error {
	metric := "container_network_transmit_bytes_total"
	if receive {
		metric = "container_network_receive_bytes_total"
	}
	return func(e *emitter, c *cluster) error {
		for _, p := range c.pods {
			m := &p.tx
			if receive {
				m = &p.rx
			}
			node := c.nodes[p.node].name
			ls := e.labels("namespace", p.namespace, "pod", p.name, "interface", "eth0", "instance", node, "node", node)
			start := p.start
			if err := e.series(metric, ls, p.start, p.end, func(k int64) float64 { return m.consumed(start, start, k) }); err != nil {
				return err
			}
		}
		return nil
	}
}

// ---- OpenCost cost exporter ----

func (e *emitter) nodeLabels(n *node) []label {
	return e.labels("instance", n.name, "node", n.name, "instance_type", n.instanceType,
		"region", e.c.region, "provider_id", n.providerID, "arch", n.arch)
}

// nodePrice writes one exporter node gauge named as its family.
func nodePrice(val func(n *node, k int64) float64) func(e *emitter, c *cluster) error {
	return func(e *emitter, c *cluster) error {
		for _, n := range c.nodes {
			n := n
			s, end := n.life(e.f)
			if err := e.series(e.metric, e.nodeLabels(n), s, end, func(k int64) float64 { return val(n, k) }); err != nil {
				return err
			}
		}
		return nil
	}
}

func emitPVPrice(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, v := range c.pvs {
		ls := e.labels("volumename", v.name, "persistentvolume", v.name, "provider_id", v.providerID)
		if err := e.series("pv_hourly_cost", ls, s, end, constant(v.price)); err != nil {
			return err
		}
	}
	return nil
}

func emitCPUAllocation(e *emitter, c *cluster) error {
	return eachContainer(c, func(p *pod, ct *container) error {
		return e.series("container_cpu_allocation", e.containerLabels(p, ct), p.start, p.end, ct.cpuAlloc)
	})
}

func emitMemoryAllocation(e *emitter, c *cluster) error {
	return eachContainer(c, func(p *pod, ct *container) error {
		return e.series("container_memory_allocation_bytes", e.containerLabels(p, ct), p.start, p.end, ct.memAlloc)
	})
}

func emitGPUAllocation(e *emitter, c *cluster) error {
	return eachContainer(c, func(p *pod, ct *container) error {
		if ct.gpus == 0 {
			return nil
		}
		return e.series("container_gpu_allocation", e.containerLabels(p, ct), p.start, p.end, constant(ct.gpus))
	})
}

func emitPodPVC(e *emitter, c *cluster) error {
	for _, p := range c.pods {
		for _, i := range p.pvcs {
			v := c.pvcs[i]
			ls := e.labels("namespace", p.namespace, "pod", p.name, "persistentvolumeclaim", v.name, "persistentvolume", c.pvs[v.pv].name)
			if err := e.series("pod_pvc_allocation", ls, p.start, p.end, constant(v.bytes)); err != nil {
				return err
			}
		}
	}
	return nil
}

func emitLBCost(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, svc := range c.services {
		ls := e.labels("namespace", svc.namespace, "service_name", svc.name, "ingress_ip", svc.ingressIP)
		if err := e.series("kubecost_load_balancer_cost", ls, s, end, constant(svc.price)); err != nil {
			return err
		}
	}
	return nil
}

func emitServiceSelectors(e *emitter, c *cluster) error {
	s, end := e.always()
	for _, svc := range c.services {
		ls := e.labels("namespace", svc.namespace, "service", svc.name, svc.selector.name, svc.selector.value)
		if err := e.series("service_selector_labels", ls, s, end, constant(1)); err != nil {
			return err
		}
	}
	return nil
}
