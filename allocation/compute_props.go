package allocation

import (
	"math"
	"sort"
	"strings"
)

type nsKey struct{ cluster, namespace string }

type objKey struct{ cluster, namespace, name string }

type ownerRef struct{ kind, name string }

type svcSelector struct {
	name  string
	match map[string]string
}

// metadata is what the instant metadata query says about pods, namespaces,
// owners, nodes, claims and services. Label and annotation maps have their
// label_ / annotation_ prefixes stripped; rows share them (read only).
type metadata struct {
	podLabels, podAnnotations map[podKey]map[string]string
	nsLabels, nsAnnotations   map[nsKey]map[string]string
	podOwner                  map[podKey]ownerRef
	rsOwner, jobOwner         map[objKey]ownerRef
	nodeLabels                map[nodeKey]map[string]string
	pvcVolume                 map[objKey]string
	pvcClass, pvClass         map[objKey]string // storage classes of claims and volumes
	pvLocal                   map[objKey]bool   // volumes on a node's own storage
	nodeCreated               map[nodeKey]int64 // kube_node_created, Unix ms
	selectors                 map[nsKey][]svcSelector
}

func stripPrefix(ls map[string]string, prefix string) map[string]string {
	var out map[string]string
	for k, v := range ls {
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}

// readMetadata fills c.meta from the metadata query's series.
func (c *computation) readMetadata() {
	m := metadata{
		podLabels: map[podKey]map[string]string{}, podAnnotations: map[podKey]map[string]string{},
		nsLabels: map[nsKey]map[string]string{}, nsAnnotations: map[nsKey]map[string]string{},
		podOwner: map[podKey]ownerRef{}, rsOwner: map[objKey]ownerRef{}, jobOwner: map[objKey]ownerRef{},
		nodeLabels: map[nodeKey]map[string]string{}, pvcVolume: map[objKey]string{},
		pvcClass: map[objKey]string{}, pvClass: map[objKey]string{}, pvLocal: map[objKey]bool{}, nodeCreated: map[nodeKey]int64{},
		selectors: map[nsKey][]svcSelector{},
	}
	for _, s := range c.series(mPodLabels) {
		m.podLabels[c.podKeyOf(s.Labels)] = stripPrefix(s.Labels, "label_")
	}
	for _, s := range c.series(mPodAnnotations) {
		m.podAnnotations[c.podKeyOf(s.Labels)] = stripPrefix(s.Labels, "annotation_")
	}
	for _, s := range c.series(mNSLabels) {
		m.nsLabels[nsKey{c.cluster(s.Labels), s.Labels["namespace"]}] = stripPrefix(s.Labels, "label_")
	}
	for _, s := range c.series(mNSAnnotations) {
		m.nsAnnotations[nsKey{c.cluster(s.Labels), s.Labels["namespace"]}] = stripPrefix(s.Labels, "annotation_")
	}
	for _, s := range c.series(mPodOwner) {
		k := c.podKeyOf(s.Labels)
		if _, seen := m.podOwner[k]; seen && s.Labels["owner_is_controller"] != "true" {
			continue
		}
		m.podOwner[k] = ownerRef{s.Labels["owner_kind"], s.Labels["owner_name"]}
	}
	for _, s := range c.series(mRSOwner) {
		m.rsOwner[objKey{c.cluster(s.Labels), s.Labels["namespace"], s.Labels["replicaset"]}] = ownerRef{s.Labels["owner_kind"], s.Labels["owner_name"]}
	}
	for _, s := range c.series(mJobOwner) {
		m.jobOwner[objKey{c.cluster(s.Labels), s.Labels["namespace"], s.Labels["job_name"]}] = ownerRef{s.Labels["owner_kind"], s.Labels["owner_name"]}
	}
	for _, s := range c.series(mNodeLabels) {
		m.nodeLabels[c.nodeKeyOf(s.Labels)] = stripPrefix(s.Labels, "label_")
	}
	for _, s := range c.series(mPVCInfo) {
		k := objKey{c.cluster(s.Labels), s.Labels["namespace"], s.Labels["persistentvolumeclaim"]}
		if v := s.Labels["volumename"]; v != "" {
			m.pvcVolume[k] = v
		}
		if v := s.Labels["storageclass"]; v != "" {
			m.pvcClass[k] = v
		}
	}
	for _, s := range c.series(mPVInfo) {
		k := c.volumeKeyOf(s.Labels)
		if v := s.Labels["storageclass"]; v != "" {
			m.pvClass[k] = v
		}
		// kube-state-metrics names a local or hostPath volume's path in
		// these labels and leaves them empty for network storage (EBS, CSI,
		// NFS, ...); without them nothing says where a volume lives.
		if s.Labels["local_path"] != "" || s.Labels["host_path"] != "" {
			m.pvLocal[k] = true
		}
	}
	for _, s := range c.series(mNodeCreated) {
		if n := len(s.Samples); n > 0 {
			m.nodeCreated[c.nodeKeyOf(s.Labels)] = int64(math.Round(s.Samples[n-1].V * 1000))
		}
	}
	for _, s := range c.series(mSvcSelector) {
		match := stripPrefix(s.Labels, "label_")
		if len(match) == 0 {
			continue
		}
		k := nsKey{c.cluster(s.Labels), s.Labels["namespace"]}
		m.selectors[k] = append(m.selectors[k], svcSelector{s.Labels["service"], match})
	}
	for k := range m.selectors {
		sel := m.selectors[k]
		sort.Slice(sel, func(i, j int) bool { return sel[i].name < sel[j].name })
	}
	c.meta = m
}

// controllerOf resolves a pod's controller: a replicaset's deployment (or
// Argo rollout), a job's cronjob, else the owner itself; kinds lower case.
func (c *computation) controllerOf(k podKey) (kind, name string) {
	o, ok := c.meta.podOwner[k]
	if !ok || o.kind == "" || o.kind == "<none>" {
		return "", ""
	}
	switch o.kind {
	case "ReplicaSet":
		if ro, ok := c.meta.rsOwner[objKey{k.cluster, k.namespace, o.name}]; ok && ro.kind != "" && ro.kind != "<none>" {
			return strings.ToLower(ro.kind), ro.name
		}
		return "replicaset", o.name
	case "Job":
		if jo, ok := c.meta.jobOwner[objKey{k.cluster, k.namespace, o.name}]; ok && jo.kind == "CronJob" {
			return "cronjob", jo.name
		}
		return "job", o.name
	}
	return strings.ToLower(o.kind), o.name
}

// servicesOf lists the services whose selector matches the pod's labels.
func (c *computation) servicesOf(k podKey, labels map[string]string) []string {
	var out []string
	for _, s := range c.meta.selectors[nsKey{k.cluster, k.namespace}] {
		if selectorMatches(s.match, labels) {
			out = append(out, s.name)
		}
	}
	return out
}

func selectorMatches(match, labels map[string]string) bool {
	if len(match) == 0 || len(labels) == 0 {
		return false
	}
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// resolvePod fills a pod's properties once.
func (c *computation) resolvePod(p *podState) {
	if p.resolved {
		return
	}
	p.resolved = true
	p.labels = c.meta.podLabels[p.key]
	p.annotations = c.meta.podAnnotations[p.key]
	p.ctrlKind, p.ctrl = c.controllerOf(p.key)
	p.services = c.servicesOf(p.key, p.labels)
}

func (c *computation) fillProperties(a *Allocation, ct *ctrState, node string, nd *nodeState) {
	p := ct.pod
	c.resolvePod(p)
	ns := nsKey{ct.key.cluster, ct.key.namespace}
	if p.shownLabels == nil || p.shownNode != node {
		// As OpenCost: a row's labels are its node's, then its namespace's,
		// then its pod's, each overriding the one before, so a team label set
		// on a namespace is found by aggregate=label:team. The containers of
		// a pod on one node share the maps (rows are read-only).
		nodeLabels := c.meta.nodeLabels[nodeKey{ct.key.cluster, node}]
		p.shownNode = node
		p.shownLabels = mergeLabels(nodeLabels, c.meta.nsLabels[ns], p.labels)
		p.shownAnnotations = mergeLabels(nil, c.meta.nsAnnotations[ns], p.annotations)
	}
	a.Properties = Properties{
		Cluster: ct.key.cluster, Node: node, Namespace: ct.key.namespace, Pod: ct.key.pod, Container: ct.key.container,
		Controller: p.ctrl, ControllerKind: p.ctrlKind, Services: p.services, ProviderID: nd.providerID,
		Labels: p.shownLabels, Annotations: p.shownAnnotations,
		NamespaceLabels: c.meta.nsLabels[ns], NamespaceAnnotations: c.meta.nsAnnotations[ns],
	}
}

// mergeLabels returns the union of the maps, later ones winning a key. It
// returns the pod's own map when the others add nothing, and nil when all
// are empty (nil and empty stay apart as the pod's map had them).
func mergeLabels(node, ns, pod map[string]string) map[string]string {
	if len(node) == 0 && len(ns) == 0 {
		return pod
	}
	out := make(map[string]string, len(node)+len(ns)+len(pod))
	for _, m := range []map[string]string{node, ns, pod} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
