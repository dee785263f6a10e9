package allocation

import (
	"fmt"
	"strings"
)

// Property is one thing rows can be aggregated by, as named in the /allocation
// API's aggregate parameter.
type Property uint8

// The properties rows can be aggregated by.
const (
	PropertyCluster        Property = iota + 1 // cluster
	PropertyNode                               // node
	PropertyNamespace                          // namespace
	PropertyControllerKind                     // controllerKind
	PropertyController                         // controller: "<kind>:<name>"
	PropertyPod                                // pod
	PropertyContainer                          // container
	PropertyService                            // service: the first of the row's services
	PropertyDeployment                         // deployment: controller name when the kind is deployment
	PropertyStatefulSet                        // statefulset
	PropertyDaemonSet                          // daemonset
	PropertyJob                                // job
	PropertyLabel                              // label:NAME
	PropertyAnnotation                         // annotation:NAME
	PropertyDepartment                         // department: a label alias (LabelConfig)
	PropertyEnvironment                        // environment: a label alias
	PropertyOwner                              // owner: a label alias
	PropertyProduct                            // product: a label alias
	PropertyTeam                               // team: a label alias
	PropertyProviderID                         // providerID
)

var propertyNames = [...]string{
	PropertyCluster:        "cluster",
	PropertyNode:           "node",
	PropertyNamespace:      "namespace",
	PropertyControllerKind: "controllerKind",
	PropertyController:     "controller",
	PropertyPod:            "pod",
	PropertyContainer:      "container",
	PropertyService:        "service",
	PropertyDeployment:     "deployment",
	PropertyStatefulSet:    "statefulset",
	PropertyDaemonSet:      "daemonset",
	PropertyJob:            "job",
	PropertyLabel:          "label",
	PropertyAnnotation:     "annotation",
	PropertyDepartment:     "department",
	PropertyEnvironment:    "environment",
	PropertyOwner:          "owner",
	PropertyProduct:        "product",
	PropertyTeam:           "team",
	PropertyProviderID:     "providerID",
}

func (p Property) String() string {
	if int(p) < len(propertyNames) && propertyNames[p] != "" {
		return propertyNames[p]
	}
	return fmt.Sprintf("Property(%d)", uint8(p))
}

// AggregateKey is one parsed element of an aggregate parameter.
type AggregateKey struct {
	Property Property
	// Name is the sanitised label or annotation name for PropertyLabel and
	// PropertyAnnotation, and empty otherwise.
	Name string
}

func (k AggregateKey) String() string {
	if k.Property == PropertyLabel || k.Property == PropertyAnnotation {
		return k.Property.String() + ":" + k.Name
	}
	return k.Property.String()
}

// AggregateBy is a parsed aggregate parameter: rows whose values agree on every
// key are summed into one row named by the values joined with "/". The empty
// AggregateBy keeps rows apart by name.
type AggregateBy []AggregateKey

func (by AggregateBy) String() string {
	parts := make([]string, len(by))
	for i, k := range by {
		parts[i] = k.String()
	}
	return strings.Join(parts, ",")
}

// ParseAggregateBy parses a comma-separated aggregate parameter such as
// "cluster,namespace" or "label:app.kubernetes.io/name". Property names are
// matched without regard to case; label and annotation names are sanitised as
// Prometheus label names are (app.kubernetes.io/name → app_kubernetes_io_name).
// The empty string parses to the empty AggregateBy.
func ParseAggregateBy(s string) (AggregateBy, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	by := make(AggregateBy, 0, len(parts))
	for _, part := range parts {
		k, err := parseAggregateKey(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("aggregate %q: %w", s, err)
		}
		by = append(by, k)
	}
	return by, nil
}

func parseAggregateKey(s string) (AggregateKey, error) {
	if s == "" {
		return AggregateKey{}, fmt.Errorf("empty property (two commas in a row?)")
	}
	name, arg, hasArg := strings.Cut(s, ":")
	for p := PropertyCluster; p <= PropertyProviderID; p++ {
		if !strings.EqualFold(name, propertyNames[p]) {
			continue
		}
		takesArg := p == PropertyLabel || p == PropertyAnnotation
		switch {
		case takesArg && strings.TrimSpace(arg) == "":
			return AggregateKey{}, fmt.Errorf("%q needs a name, as in %s:app", s, propertyNames[p])
		case takesArg:
			return AggregateKey{Property: p, Name: SanitizeLabelName(strings.TrimSpace(arg))}, nil
		case hasArg:
			return AggregateKey{}, fmt.Errorf("%q: %s takes no ':NAME'", s, propertyNames[p])
		}
		return AggregateKey{Property: p}, nil
	}
	return AggregateKey{}, fmt.Errorf("unknown property %q (known: %s)", name, strings.Join(propertyNames[1:], ", "))
}

// LabelConfig names the labels behind the department, environment, owner, product
// and team aliases. For each alias the first listed name that a row has as a label,
// else as an annotation, gives the value.
type LabelConfig struct {
	Department  []string
	Environment []string
	Owner       []string
	Product     []string
	Team        []string
}

// DefaultLabelConfig returns Kubecost's defaults: department, env, owner, app,
// team.
func DefaultLabelConfig() LabelConfig {
	return LabelConfig{
		Department:  []string{"department"},
		Environment: []string{"env"},
		Owner:       []string{"owner"},
		Product:     []string{"app"},
		Team:        []string{"team"},
	}
}

func (c *LabelConfig) names(p Property) []string {
	switch p {
	case PropertyDepartment:
		return c.Department
	case PropertyEnvironment:
		return c.Environment
	case PropertyOwner:
		return c.Owner
	case PropertyProduct:
		return c.Product
	case PropertyTeam:
		return c.Team
	}
	return nil
}

// SanitizeLabelName turns a Kubernetes label name into the Prometheus label name
// kube-state-metrics exports it under: every character other than an ASCII letter,
// digit or underscore becomes '_', and a leading digit gets a '_' in front. A name
// that is already clean is returned as is, without allocating.
func SanitizeLabelName(s string) string {
	clean := s != "" && !isDigit(s[0])
	for i := 0; clean && i < len(s); i++ {
		clean = isLabelChar(s[i])
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s != "" && isDigit(s[0]) {
		b.WriteByte('_')
	}
	for _, r := range s {
		if r < 0x80 && isLabelChar(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLabelChar(c byte) bool {
	return c == '_' || isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// lookupLabel finds name in m as given, else sanitised.
func lookupLabel(m map[string]string, name string) (string, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	if s := SanitizeLabelName(name); s != name {
		v, ok := m[s]
		return v, ok
	}
	return "", false
}

// value returns the row's value for k, or "" when it has none.
func (k AggregateKey) value(p *Properties, lc *LabelConfig) string {
	switch k.Property {
	case PropertyCluster:
		return p.Cluster
	case PropertyNode:
		return p.Node
	case PropertyNamespace:
		return p.Namespace
	case PropertyControllerKind:
		return p.ControllerKind
	case PropertyController:
		if p.Controller == "" || p.ControllerKind == "" {
			return p.Controller
		}
		return p.ControllerKind + ":" + p.Controller
	case PropertyPod:
		return p.Pod
	case PropertyContainer:
		return p.Container
	case PropertyService:
		if len(p.Services) == 0 {
			return ""
		}
		return p.Services[0]
	case PropertyDeployment, PropertyStatefulSet, PropertyDaemonSet, PropertyJob:
		if !strings.EqualFold(p.ControllerKind, propertyNames[k.Property]) {
			return ""
		}
		return p.Controller
	case PropertyLabel:
		v, _ := lookupLabel(p.Labels, k.Name)
		return v
	case PropertyAnnotation:
		v, _ := lookupLabel(p.Annotations, k.Name)
		return v
	case PropertyDepartment, PropertyEnvironment, PropertyOwner, PropertyProduct, PropertyTeam:
		return aliasValue(p, lc.names(k.Property))
	case PropertyProviderID:
		return p.ProviderID
	}
	return ""
}

func aliasValue(p *Properties, names []string) string {
	for _, n := range names {
		if v, ok := lookupLabel(p.Labels, n); ok && v != "" {
			return v
		}
	}
	for _, n := range names {
		if v, ok := lookupLabel(p.Annotations, n); ok && v != "" {
			return v
		}
	}
	return ""
}

// keyer computes rows' aggregation keys.
type keyer struct {
	by     AggregateBy
	labels *LabelConfig
	buf    []byte
}

// missing is the key segment of a row that has no value for a property:
// __unmounted__ for unmounted rows, which belong to no workload, else
// __unallocated__.
func missing(a *Allocation) string {
	if a.IsUnmounted() {
		return UnmountedSuffix
	}
	return Unallocated
}

// segment is the key segment of a for its i-th key.
func (k *keyer) segment(i int, a *Allocation) string {
	if v := k.by[i].value(&a.Properties, k.labels); v != "" {
		return v
	}
	return missing(a)
}

// appendKey appends a's key to dst. With no keys the key is the row's name.
func (k *keyer) appendKey(dst []byte, a *Allocation) []byte {
	if len(k.by) == 0 {
		return append(dst, a.Name...)
	}
	for i := range k.by {
		if i > 0 {
			dst = append(dst, '/')
		}
		p := &a.Properties
		if k.by[i].Property == PropertyController && p.Controller != "" && p.ControllerKind != "" {
			// "<kind>:<name>" without building the string first.
			dst = append(append(append(dst, p.ControllerKind...), ':'), p.Controller...)
			continue
		}
		dst = append(dst, k.segment(i, a)...)
	}
	return dst
}

// keyTable interns keys: each distinct key gets a small index.
type keyTable struct {
	index map[string]int32
	names []string
}

func newKeyTable() *keyTable { return &keyTable{index: make(map[string]int32)} }

// intern returns key's index, adding it when new. Looking up an existing key does
// not allocate.
func (t *keyTable) intern(key []byte) int32 {
	if i, ok := t.index[string(key)]; ok {
		return i
	}
	return t.add(string(key))
}

// internString is intern for a string, which a new key copies: it may
// point into memory its caller reuses (a columnar reader's Arrow buffers).
func (t *keyTable) internString(key string) int32 {
	if i, ok := t.index[key]; ok {
		return i
	}
	return t.add(strings.Clone(key))
}

func (t *keyTable) add(key string) int32 {
	i := int32(len(t.names))
	t.index[key] = i
	t.names = append(t.names, key)
	return i
}
