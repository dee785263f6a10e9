package allocation

import (
	"fmt"
	"slices"
	"strings"
)

// Filters, compatible with OpenCost's v2 filter language:
//
//	namespace:"kube-system"+label[app]:"web"
//	namespace:"a","b" | (cluster<~:"prod-" + controllerKind!:"job")
//
// A comparison is a field, an operator and one or more quoted values:
//
//	field    cluster node namespace controllerKind controllerName pod container
//	         providerID services label[K] annotation[K] namespaceLabel[K]
//	         namespaceAnnotation[K]
//	op       :  equals           !:   does not equal
//	         ~: contains         !~:  does not contain
//	         <~: starts with     !<~: does not start with
//	         ~>: ends with       !~>: does not end with
//	values   "a","b"  any of them matches (for a negated operator: none of them)
//
// Values are double-quoted; inside them \" is a quote, \\ a backslash, \n \t \r
// the usual control characters. services is a list: ':' and '~:' ask whether some
// service equals the value (an empty list equals ""), '<~:' and '~>:' whether some
// service starts or ends with it. label[K] is the value of label K (K is also
// tried sanitised, so label[app.kubernetes.io/name] finds app_kubernetes_io_name;
// a missing label reads as ""); without [K], label asks about the label names:
// ':' and '~:' whether the row has the label, '<~:' and '~>:' whether some label
// name starts or ends with the value. As in OpenCost, ':"__unallocated__"' also
// matches a field that is empty.
//
// Comparisons combine with '+' (and) and '|' (or), grouped by parentheses. '+'
// binds tighter than '|': a|b+c means a|(b+c). OpenCost rejects a mix of '+' and
// '|' without parentheses, so every filter it accepts means the same here.
// Whitespace between tokens is ignored. The empty filter matches everything.
//
// Grammar:
//
//	filter     = [ or ] .
//	or         = and { "|" and } .
//	and        = term { "+" term } .
//	term       = "(" or ")" | comparison .
//	comparison = field [ "[" key "]" ] op value { "," value } .

// FilterField is a property a filter compares.
type FilterField uint8

// Filter fields.
const (
	FieldCluster FilterField = iota + 1
	FieldNode
	FieldNamespace
	FieldControllerKind
	FieldControllerName
	FieldPod
	FieldContainer
	FieldProviderID
	FieldServices
	FieldLabel
	FieldAnnotation
	FieldNamespaceLabel
	FieldNamespaceAnnotation
)

var filterFieldNames = [...]string{
	FieldCluster:             "cluster",
	FieldNode:                "node",
	FieldNamespace:           "namespace",
	FieldControllerKind:      "controllerKind",
	FieldControllerName:      "controllerName",
	FieldPod:                 "pod",
	FieldContainer:           "container",
	FieldProviderID:          "providerID",
	FieldServices:            "services",
	FieldLabel:               "label",
	FieldAnnotation:          "annotation",
	FieldNamespaceLabel:      "namespaceLabel",
	FieldNamespaceAnnotation: "namespaceAnnotation",
}

func (f FilterField) String() string {
	if int(f) < len(filterFieldNames) && filterFieldNames[f] != "" {
		return filterFieldNames[f]
	}
	return fmt.Sprintf("FilterField(%d)", uint8(f))
}

// isMap reports whether the field is a map, which takes a [key].
func (f FilterField) isMap() bool { return f >= FieldLabel && f <= FieldNamespaceAnnotation }

func (f FilterField) mapOf(p *Properties) map[string]string {
	switch f {
	case FieldLabel:
		return p.Labels
	case FieldAnnotation:
		return p.Annotations
	case FieldNamespaceLabel:
		return p.NamespaceLabels
	case FieldNamespaceAnnotation:
		return p.NamespaceAnnotations
	}
	return nil
}

func (f FilterField) stringOf(p *Properties) string {
	switch f {
	case FieldCluster:
		return p.Cluster
	case FieldNode:
		return p.Node
	case FieldNamespace:
		return p.Namespace
	case FieldControllerKind:
		return p.ControllerKind
	case FieldControllerName:
		return p.Controller
	case FieldPod:
		return p.Pod
	case FieldContainer:
		return p.Container
	case FieldProviderID:
		return p.ProviderID
	}
	return ""
}

// FilterOp is a comparison operator.
type FilterOp uint8

// Filter operators.
const (
	OpEquals       FilterOp = iota + 1 // :
	OpNotEquals                        // !:
	OpContains                         // ~:
	OpNotContains                      // !~:
	OpHasPrefix                        // <~:
	OpNotHasPrefix                     // !<~:
	OpHasSuffix                        // ~>:
	OpNotHasSuffix                     // !~>:
)

var filterOpTokens = [...]string{
	OpEquals:       ":",
	OpNotEquals:    "!:",
	OpContains:     "~:",
	OpNotContains:  "!~:",
	OpHasPrefix:    "<~:",
	OpNotHasPrefix: "!<~:",
	OpHasSuffix:    "~>:",
	OpNotHasSuffix: "!~>:",
}

// String is the operator as written in a filter.
func (op FilterOp) String() string {
	if int(op) < len(filterOpTokens) && filterOpTokens[op] != "" {
		return filterOpTokens[op]
	}
	return fmt.Sprintf("FilterOp(%d)", uint8(op))
}

// Negated reports whether op is one of the '!' operators.
func (op FilterOp) Negated() bool {
	return op == OpNotEquals || op == OpNotContains || op == OpNotHasPrefix || op == OpNotHasSuffix
}

// positive is op without its '!'.
func (op FilterOp) positive() FilterOp {
	if op.Negated() {
		return op - 1
	}
	return op
}

// FilterNode is a node of a parsed filter: *FilterComparison, *FilterAnd or
// *FilterOr.
type FilterNode interface {
	// Matches reports whether the row passes.
	Matches(a *Allocation) bool
	// writeTo prints the node; nested says it is an operand of a group, which
	// groups are parenthesised in (so the text is valid OpenCost too).
	writeTo(b *strings.Builder, nested bool)
}

// FilterComparison compares one field with one or more values.
type FilterComparison struct {
	Field FilterField
	// Key is the map key for map fields (label[Key]); empty for other fields and
	// for a map field compared by its keys.
	Key string
	Op  FilterOp
	// Values are alternatives: a positive operator matches when any value
	// matches, a negated one when none does.
	Values []string
}

// FilterAnd matches when every operand matches.
type FilterAnd struct{ Operands []FilterNode }

// FilterOr matches when some operand matches.
type FilterOr struct{ Operands []FilterNode }

// Filter is a parsed filter. The zero Filter matches everything.
type Filter struct {
	Root FilterNode
}

// IsEmpty reports whether the filter matches everything.
func (f Filter) IsEmpty() bool { return f.Root == nil }

// Matches reports whether a passes the filter.
func (f Filter) Matches(a *Allocation) bool {
	return f.Root == nil || f.Root.Matches(a)
}

// RequiredValues returns values one of which a row's field must equal for
// the filter to match the row, when the filter says so: an equality on a
// plain string field (cluster, node, namespace, …) at its top or ANDed there.
// "__unallocated__" also stands for the empty value. Readers skip data whose
// statistics show none of the values.
func (f Filter) RequiredValues(field FilterField) ([]string, bool) {
	required := func(n FilterNode) ([]string, bool) {
		c, ok := n.(*FilterComparison)
		if !ok || c.Field != field || c.Op != OpEquals || c.Key != "" || field == FieldServices || field.isMap() || len(c.Values) == 0 {
			return nil, false
		}
		vals := slices.Clone(c.Values)
		if slices.Contains(vals, Unallocated) {
			vals = append(vals, "")
		}
		return vals, true
	}
	if and, ok := f.Root.(*FilterAnd); ok {
		for _, o := range and.Operands {
			if vals, ok := required(o); ok {
				return vals, true
			}
		}
		return nil, false
	}
	return required(f.Root)
}

// uses reports whether some comparison of the filter is on a field pred
// accepts.
func (f Filter) uses(pred func(FilterField) bool) bool {
	var walk func(n FilterNode) bool
	walk = func(n FilterNode) bool {
		switch n := n.(type) {
		case *FilterComparison:
			return pred(n.Field)
		case *FilterAnd:
			return slices.ContainsFunc(n.Operands, walk)
		case *FilterOr:
			return slices.ContainsFunc(n.Operands, walk)
		}
		return n != nil // an unknown node: assume it reads anything
	}
	return walk(f.Root)
}

// String prints the filter in the filter language; parsing it gives f back.
func (f Filter) String() string {
	if f.Root == nil {
		return ""
	}
	var b strings.Builder
	f.Root.writeTo(&b, false)
	return b.String()
}

// Matches implements FilterNode.
func (n *FilterAnd) Matches(a *Allocation) bool {
	for _, o := range n.Operands {
		if !o.Matches(a) {
			return false
		}
	}
	return true
}

// Matches implements FilterNode.
func (n *FilterOr) Matches(a *Allocation) bool {
	for _, o := range n.Operands {
		if o.Matches(a) {
			return true
		}
	}
	return false
}

// Matches implements FilterNode.
func (c *FilterComparison) Matches(a *Allocation) bool {
	return c.matchesAny(&a.Properties) != c.Op.Negated()
}

func (c *FilterComparison) matchesAny(p *Properties) bool {
	op := c.Op.positive()
	for _, v := range c.Values {
		if c.matches(op, p, v) {
			return true
		}
	}
	return false
}

func (c *FilterComparison) matches(op FilterOp, p *Properties, want string) bool {
	switch {
	case c.Field == FieldServices:
		return matchList(op, p.Services, want)
	case c.Field.isMap() && c.Key == "":
		return matchKeys(op, c.Field.mapOf(p), want)
	case c.Field.isMap():
		v, _ := lookupLabel(c.Field.mapOf(p), c.Key)
		return matchString(op, v, want)
	}
	return matchString(op, c.Field.stringOf(p), want)
}

func matchString(op FilterOp, have, want string) bool {
	switch op {
	case OpEquals:
		return have == want || (have == "" && want == Unallocated)
	case OpContains:
		return strings.Contains(have, want)
	case OpHasPrefix:
		return strings.HasPrefix(have, want)
	case OpHasSuffix:
		return strings.HasSuffix(have, want)
	}
	return false
}

func matchList(op FilterOp, have []string, want string) bool {
	if len(have) == 0 {
		return (op == OpEquals || op == OpContains) && (want == "" || want == Unallocated)
	}
	for _, h := range have {
		switch op {
		case OpEquals, OpContains:
			if h == want {
				return true
			}
		default:
			if matchString(op, h, want) {
				return true
			}
		}
	}
	return false
}

func matchKeys(op FilterOp, m map[string]string, want string) bool {
	if op == OpEquals || op == OpContains {
		_, ok := lookupLabel(m, want)
		return ok
	}
	for k := range m {
		if matchString(op, k, want) {
			return true
		}
	}
	return false
}

func (c *FilterComparison) writeTo(b *strings.Builder, _ bool) {
	b.WriteString(c.Field.String())
	if c.Key != "" {
		b.WriteByte('[')
		b.WriteString(c.Key)
		b.WriteByte(']')
	}
	b.WriteString(c.Op.String())
	for i, v := range c.Values {
		if i > 0 {
			b.WriteByte(',')
		}
		writeQuoted(b, v)
	}
}

func (n *FilterAnd) writeTo(b *strings.Builder, nested bool) {
	writeGroup(b, n.Operands, '+', nested)
}

func (n *FilterOr) writeTo(b *strings.Builder, nested bool) {
	writeGroup(b, n.Operands, '|', nested)
}

func writeGroup(b *strings.Builder, operands []FilterNode, op byte, nested bool) {
	if nested {
		b.WriteByte('(')
	}
	for i, o := range operands {
		if i > 0 {
			b.WriteByte(op)
		}
		o.writeTo(b, true)
	}
	if nested {
		b.WriteByte(')')
	}
}

// writeQuoted writes s as a filter value: in double quotes, with quotes,
// backslashes and the escapable control characters escaped.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
