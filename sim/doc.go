// Package sim simulates a fleet of Kubernetes clusters: the metrics a
// Prometheus scraping kube-state-metrics, cAdvisor and the OpenCost cost
// exporter would hold, and the exact cost of every container computed from
// the simulation itself, never from Prometheus. Tests and benchmarks of the
// allocation engine compare their answers with this ground truth.
//
// # Basics
//
//	f, err := sim.New(cfg)                       // cfg from sim.DefaultConfig()
//	st, err := f.WriteOpenMetrics(ctx, w)        // for promtool tsdb create-blocks-from openmetrics
//	st, err = f.WriteTSDB(ctx, dir, sim.TSDBOptions{})  // Prometheus TSDB blocks, no promtool needed
//	n, err := f.WriteTruth(ctx, w)               // ground truth, JSON lines
//	t, err := sim.ReadTruth(r)                   // … read back
//
// Everything is a function of the Config: the seed drives every choice and
// no clock is read, so the same Config gives the same bytes. The range is
// [Start, End] with whole-hour bounds (tests use End = DefaultEnd,
// 2024-01-08T00:00:00Z).
//
// Generation streams: samples are computed family by family and series by
// series from closed-form models (a counter's value at any scrape is computed
// without walking the scrapes before it), so memory holds the fleet's objects
// but never its samples. WriteTSDB holds one two-hour part of a block at a
// time.
//
// # The fleet
//
// Each cluster (cluster-01, …) has NodesPerCluster nodes drawn from the
// instance types: GPU types for a share of nodes (the last ones), spot for a
// share of the others (always node 1). One spot node per cluster changes
// price (×1.25) at a scrape in the middle third of the range. Workloads:
//
//   - daemonsets kube-proxy and fluent-bit, one pod per node, in the first
//     namespace; one kube-proxy container restarts twice;
//   - one inference deployment per GPU node, using half its GPUs (rounded
//     up), in namespace "ml" (or the last namespace);
//   - deployments (pods owned by a replicaset owned by the deployment), 1–3
//     replicas, half with an istio-proxy sidecar; half are rolled out once
//     (each replica replaced by a pod of a new replicaset 1–15 s after the
//     old one stops); the second has no CPU limit; one container of the
//     first restarts twice; the first third have a LoadBalancer service
//     selecting label app=<name>;
//   - statefulsets of two replicas, each mounting its own PVC; the first
//     replica of the first statefulset is deleted mid-range and recreated
//     under the same name (new uid, same node and PVC) 5–90 s later;
//   - cronjobs every 15, 30 or 60 minutes (at least 8 scrape intervals):
//     jobs named <cronjob>-<scheduled minute>, one pod each, starting a few
//     seconds after the schedule and running 2–5 intervals plus some
//     seconds; kube-state-metrics keeps reporting a completed pod
//     (running = 0, requests still set) for 2–5 more intervals;
//   - one-off jobs of 20 minutes to 4 hours, starting anywhere;
//   - a bare replicaset (owner "<none>") with two best-effort-CPU pods;
//   - a bound PVC that no pod mounts, a PV without a claim, and a
//     LoadBalancer service (legacy-lb) that selects no pod.
//
// With Config.LateNodes, each cluster also gets that many on-demand nodes
// that join at an arbitrary second in the middle third of the range (their
// series start at the first scrape after it; kube_node_created holds the
// exact instant) and run no pods, so all their cost is idle.
//
// Long-lived pods started at an arbitrary second up to ten days before the
// range and outlive it. Every start and stop is at an arbitrary second, not
// aligned to scrapes or windows. Requests and limits are constant per pod;
// CPU usage averages 30–115 % of the request and swings ±65 % around that
// (a wave plus noise), memory 50–115 % ±35 %; limits are twice the requests.
//
// # Scheduling
//
// A replica reserves on its node, for the whole range, a bound of its
// allocation max(request, usage): 1.9 × the CPU request, 1.56 × the memory
// request, its GPUs. Replicas go first-fit from a rotating node; GPU pods
// only on GPU nodes, other workloads never there (daemonsets everywhere).
// A replica that fits nowhere is not created. So at every instant the
// allocations on a node stay within its allocatable capacity, and idle is
// never negative.
//
// # Metrics
//
// Every series carries cluster_id. Names and labels:
//
//	kube-state-metrics v2
//	  kube_pod_labels{namespace,pod,uid,label_*}                       1
//	  kube_pod_owner{namespace,pod,uid,owner_kind,owner_name,owner_is_controller}  1
//	  kube_pod_start_time{namespace,pod,uid}                           the pod's exact start, Unix seconds
//	  kube_pod_completion_time{namespace,pod,uid}                      the exact end of a pod that completes
//	      (job and cronjob pods), Unix seconds, from the first scrape at or after it while the
//	      completed pod is reported; none for deleted pods (rollouts, recreated or long-lived pods)
//	  kube_pod_container_status_running{namespace,pod,uid,container}   1 while running, 0 once completed
//	  kube_pod_container_status_restarts_total{…same}                  counter
//	  kube_pod_container_resource_requests|limits{namespace,pod,uid,container,node,resource,unit}
//	      resource/unit cpu/core, memory/byte, nvidia_com_gpu/integer; absent when not set
//	  kube_node_labels{node,label_*}
//	  kube_node_created{node}                                          the node's creation, Unix seconds
//	  kube_node_status_capacity|allocatable{node,resource,unit}       cpu, memory, pods, nvidia_com_gpu
//	  kube_node_status_capacity|allocatable_cpu_cores|memory_bytes{node}   (v1 names, as OpenCost re-emits)
//	  kube_namespace_labels{namespace,label_*}
//	  kube_replicaset_owner{namespace,replicaset,owner_kind,owner_name,owner_is_controller}
//	  kube_job_owner{namespace,job_name,owner_kind,owner_name,owner_is_controller}
//	  kube_persistentvolumeclaim_info{namespace,persistentvolumeclaim,storageclass,volumename}
//	  kube_persistentvolumeclaim_resource_requests_storage_bytes{namespace,persistentvolumeclaim}
//	  kube_persistentvolume_capacity_bytes{persistentvolume}
//	  kube_persistentvolume_info{persistentvolume,storageclass}
//	cAdvisor (through the kubelet)
//	  container_cpu_usage_seconds_total{namespace,pod,container,instance,node}   counter, CPU seconds
//	  container_memory_working_set_bytes{…same}
//	  container_network_receive|transmit_bytes_total{namespace,pod,interface,instance,node}   pod level
//	OpenCost cost exporter
//	  node_cpu_hourly_cost, node_ram_hourly_cost, node_gpu_hourly_cost, node_gpu_count,
//	  node_total_hourly_cost, kubecost_node_is_spot
//	      {instance,node,instance_type,region,provider_id,arch}   $/core-h, $/GiB-h, $/GPU-h, count, $/h, 0|1
//	  pv_hourly_cost{volumename,persistentvolume,provider_id}     $/GiB-h
//	  container_cpu_allocation, container_memory_allocation_bytes{namespace,pod,container,instance,node}
//	      max(request, usage) of the scrape's cell (below)
//	  container_gpu_allocation{…same}                             GPUs (GPU containers only)
//	  pod_pvc_allocation{namespace,pod,persistentvolumeclaim,persistentvolume}   the claim's bytes
//	  kubecost_load_balancer_cost{namespace,service_name,ingress_ip}             $/h
//	  service_selector_labels{namespace,service,label_app}
//
// kube-state-metrics reports a pod over its life (plus the completed tail of
// job pods); cAdvisor and exporter series end with the pod. Nodes (but late
// ones), volumes, claims, namespaces, replicasets and services exist over
// the whole range.
//
// # Samples and the ground-truth model
//
// Scrapes happen at every multiple of the scrape interval iv since the Unix
// epoch (so at window boundaries too). An object living over [s, e) has a
// sample at every scrape t with s <= t < e (and Start <= t <= End): a pod
// running 09:00:17–09:03:40 at iv = 60 s has samples at 09:01, 09:02 and
// 09:03 only. Every pod spans at least one scrape.
//
// Values are piecewise constant on scrape cells [t, t+iv): the sample at t
// is the value over its cell, clipped to the pod's life, and the first
// sample's value also covers the leading part [s, first scrape). So each
// second of a pod's life is represented by exactly one sample:
//
//	∫ x dt over the pod's life = x(t1)·(t1+iv−s) + Σ_{middle t} x(t)·iv + x(tn)·(e−tn)
//
// for samples t1 < … < tn (a pod with one sample: x(t1)·(e−s)). Gauges
// (working set, requests, allocations, prices) follow this directly. The
// CPU counter's increase from scrape t to t+iv is usage(t)·iv, so
// rate over the cell = usage(t); its value at the first scrape is
// usage(t1)·(t1−s). At a restart instant r in cell [t, t+iv) the counter
// drops to 0 and restarts: the next sample holds only usage(t)·(t+iv−r),
// and usage(t)·(r−t) never shows in the counter (as with cAdvisor's new
// cgroup), though it is in the truth. container_cpu_allocation at t is
// max(request, usage(t)) exactly, so allocation integrals need no counter.
// Network counters work like the CPU counter, without restarts.
//
// Prices are in force per cell: the price sampled at scrape t holds over
// [t, t+iv). A piece of a pod's life is charged the price of the cell it
// lies in — for the leading part [s, t1) that is the cell before t1, whose
// node sample exists (nodes exist throughout).
//
// The exact running time is e − s. From samples alone, s is exact through
// kube_pod_start_time and e lies in (tn, tn+iv]; the truth uses the real e.
// For pods that complete (job pods) e is exact too, through
// kube_pod_completion_time (whole seconds, as every start and end).
//
// # Ground truth
//
// Windows: every hour of [Start, End) and every whole UTC day in it
// (resolution "1h" and "1d"). Per container and window in which it ran
// (ContainerTruth, kind "container"), with d = the length of each piece:
//
//	RunningSeconds        Σ d
//	CPUCoreHours          Σ max(request, usage)·d / 3600
//	CPUCoreRequestAverage Σ request·d / RunningSeconds   (likewise usage, RAM)
//	RAMByteHours          Σ max(request, working set)·d / 3600
//	GPUHours              Σ gpus·d / 3600
//	CPUCost               Σ max(request, usage)·d/3600 · node_cpu_hourly_cost(cell)
//	RAMCost               Σ max(request, ws)/2^30·d/3600 · node_ram_hourly_cost(cell)
//	GPUCost               Σ gpus·d/3600 · node_gpu_hourly_cost(cell)
//	PVByteHours, PVCost   per mounted claim: claim bytes·d/3600 (· pv_hourly_cost/2^30),
//	                      divided evenly among the pod's containers
//	Network*Bytes         the pod's bytes (rate(cell)·d) divided evenly among its containers
//	LoadBalancerCost      each instant, a service's $/h split evenly among the running
//	                      pods it selects, then among their containers
//	TotalCost             CPU + RAM + GPU + PV + load balancer
//
// A pod recreated under the same name on the same node is one container
// record per window (its incarnations add up; Start/End span both).
// Per node and window (kind "node"): capacity cost = cores·cpu$ + GiB·ram$ +
// GPUs·gpu$ integrated over the window's cells, the allocated CPU/RAM/GPU
// cost of its containers, and idle = capacity − allocated per resource;
// a late node's record starts when it joined (each piece of its life at
// its cell's prices), and it has none for windows before. Per volume and
// window (kind "disk"): its capacity at its price over the window; per load
// balancer (kind "loadbalancer"): its price over the window. These are what
// the Node, Disk and LoadBalancer assets of a window should say.
// Kind "unmounted": a volume's cost while no running pod mounts its claim
// (claim bytes) or for a volume without a claim (its capacity), and a load
// balancer's while it selects no running pod. Per cluster (kind "cluster"):
// the sums, with TotalCost = node + PV + load balancer cost = container
// cost + idle + unmounted cost.
//
// The file is JSON lines, one record per line with a "kind" field; field
// names are those of the ContainerTruth, NodeTruth, UnmountedTruth and
// ClusterTruth types; times are RFC 3339 UTC; costs in dollars.
//
// # Caveats
//
//   - The exporter series are ideal: container_cpu_allocation uses the
//     cell's exact usage, not a trailing rate over the last scrapes.
//   - A restart resets the CPU counter within the same series (no
//     cAdvisor id label), so counter-based usage undercounts by the part
//     of the cell before the restart; kube_pod_container_status_restarts_total
//     shows when.
//   - Nodes never leave (late nodes join, none is removed); prices change only
//     at scrape instants; a claim is mounted by at most one pod at a time.
//   - Daily windows exist only for whole UTC days inside the range.
//   - WriteTSDB's samples are deterministic, its block ids (ULIDs, made by
//     the tsdb package from the clock and random bits) and meta.json are not.
//   - The range's last scrape (at End) is written; its cell lies after the
//     truth's range, and with 24-hour blocks aligned on UTC days it makes a
//     small block of its own.
//   - The scale is set by the workload densities: 1,000 nodes over seven days
//     give about 64,000 pod incarnations (mostly cronjob runs) and about a
//     billion samples, far too many for OpenMetrics text (~220 bytes a
//     sample); use WriteTSDB for large fleets.
package sim
