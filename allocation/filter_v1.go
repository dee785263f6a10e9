package allocation

import (
	"fmt"
	"slices"
	"strings"
)

// Kubecost's legacy ("v1") filter parameters, translated into the filter
// language's tree (see filter.go). The rules follow OpenCost's translation
// (AllocationFilterFromParamsV1 in opencost/opencost, pkg/util/filterutil):
//
//   - A parameter is a comma list; its values are alternatives (OR). Blank
//     items are skipped, so an empty parameter is no condition.
//   - Parameters are conditions on different fields, all of which must hold
//     (AND); the caller ANDs the result with filter= as well.
//   - A value ending in '*' matches by prefix (<~:); '*' anywhere else is an
//     ordinary character. A bare '*' matches every row.
//   - filterClusters, filterNodes, filterNamespaces, filterControllerKinds,
//     filterPods and filterContainers compare their field for equality.
//     Controller kinds are compared in lower case, as rows carry them.
//   - filterControllers takes name or kind:name (kind:name* for a prefix of
//     the name; the kind takes no wildcard).
//   - filterLabels and filterAnnotations take name:value (or name=value). The
//     name is sanitised as Kubecost does (app.kubernetes.io/name reads
//     app_kubernetes_io_name); the value is everything after the first ':' or
//     '='. name:* asks whether the row has the label at all.
//   - filterServices matches a row when one of its services matches.
//
// Unlike OpenCost, which logs and skips a malformed item (so the filter matches
// more than was asked), a malformed item is an error naming the parameter.

// V1FilterParams are the legacy filter parameters ParseFilterV1 knows, in the
// order their conditions are ANDed.
var V1FilterParams = [...]string{
	"filterClusters",
	"filterNodes",
	"filterNamespaces",
	"filterControllerKinds",
	"filterControllers",
	"filterPods",
	"filterContainers",
	"filterLabels",
	"filterAnnotations",
	"filterServices",
}

// V1FilterError is a legacy filter parameter that does not translate.
type V1FilterError struct {
	Param string // the parameter, e.g. filterLabels
	Item  string // the offending comma item, if one is to blame
	Msg   string
}

func (e *V1FilterError) Error() string {
	if e.Item == "" {
		return e.Param + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %q: %s", e.Param, e.Item, e.Msg)
}

// ParseFilterV1 translates legacy filter parameters (name to raw value, as in
// the query string) into a Filter. Absent or blank parameters add no
// condition; no parameters give the zero Filter. A key that is not one of
// V1FilterParams is an error. Errors are *V1FilterError.
func ParseFilterV1(params map[string]string) (Filter, error) {
	var unknown []string
	for name := range params {
		if !slices.Contains(V1FilterParams[:], name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Filter{}, &V1FilterError{Param: unknown[0], Msg: "not a legacy filter parameter"}
	}
	var and []FilterNode
	for _, name := range V1FilterParams {
		n, err := parseV1Param(name, params[name])
		if err != nil {
			return Filter{}, err
		}
		if n != nil {
			and = append(and, n)
		}
	}
	return Filter{Root: andOf(and)}, nil
}

// parseV1Param translates one parameter; nil means no condition.
func parseV1Param(name, raw string) (FilterNode, error) {
	var field FilterField
	switch name {
	case "filterClusters":
		field = FieldCluster
	case "filterNodes":
		field = FieldNode
	case "filterNamespaces":
		field = FieldNamespace
	case "filterControllerKinds":
		field = FieldControllerKind
	case "filterPods":
		field = FieldPod
	case "filterContainers":
		field = FieldContainer
	case "filterServices":
		field = FieldServices
	case "filterControllers":
		return v1Alternatives(name, raw, v1Controller)
	case "filterLabels":
		return v1Alternatives(name, raw, func(item string) (FilterNode, string) { return v1Pair(FieldLabel, item) })
	case "filterAnnotations":
		return v1Alternatives(name, raw, func(item string) (FilterNode, string) { return v1Pair(FieldAnnotation, item) })
	default:
		return nil, &V1FilterError{Param: name, Msg: "not a legacy filter parameter"}
	}
	return v1Alternatives(name, raw, func(item string) (FilterNode, string) {
		if field == FieldControllerKind {
			item = strings.ToLower(item)
		}
		return v1Value(field, "", item), ""
	})
}

// v1Alternatives splits raw at commas, translates each non-blank item with
// one (which returns a problem instead of a node when the item is bad) and ORs
// the results, merging comparisons that differ only in their value.
func v1Alternatives(param, raw string, one func(item string) (FilterNode, string)) (FilterNode, error) {
	var or []FilterNode
	for _, item := range strings.Split(raw, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		n, problem := one(item)
		if problem != "" {
			return nil, &V1FilterError{Param: param, Item: item, Msg: problem}
		}
		or = addAlternative(or, n)
	}
	return orOf(or), nil
}

// addAlternative appends n to an OR, folding it into an earlier comparison of
// the same field, key and operator ("a" | "b" is "a","b").
func addAlternative(or []FilterNode, n FilterNode) []FilterNode {
	c, ok := n.(*FilterComparison)
	if !ok {
		return append(or, n)
	}
	for _, o := range or {
		if p, ok := o.(*FilterComparison); ok && p.Field == c.Field && p.Key == c.Key && p.Op == c.Op {
			if !slices.Contains(p.Values, c.Values[0]) {
				p.Values = append(p.Values, c.Values[0])
			}
			return or
		}
	}
	return append(or, n)
}

// v1Value compares field[key] with value: equality, or a prefix when value
// ends in '*'.
func v1Value(field FilterField, key, value string) *FilterComparison {
	if prefix, ok := strings.CutSuffix(value, "*"); ok {
		return &FilterComparison{Field: field, Key: key, Op: OpHasPrefix, Values: []string{prefix}}
	}
	return &FilterComparison{Field: field, Key: key, Op: OpEquals, Values: []string{value}}
}

// v1Controller translates name or kind:name.
func v1Controller(item string) (FilterNode, string) {
	kind, name, hasKind := strings.Cut(item, ":")
	if !hasKind {
		return v1Value(FieldControllerName, "", item), ""
	}
	kind, name = strings.TrimSpace(kind), strings.TrimSpace(name)
	switch {
	case strings.Contains(name, ":"):
		return nil, "want name or kind:name"
	case kind == "":
		return nil, "empty controller kind before ':' (want kind:name, e.g. deployment:web)"
	case name == "":
		return nil, "empty controller name after ':' (want kind:name, e.g. deployment:web)"
	case strings.Contains(kind, "*"):
		return nil, "a wildcard '*' goes at the end of the name, not in the kind"
	}
	return &FilterAnd{Operands: []FilterNode{
		&FilterComparison{Field: FieldControllerKind, Op: OpEquals, Values: []string{strings.ToLower(kind)}},
		v1Value(FieldControllerName, "", name),
	}}, ""
}

// v1Pair translates name:value or name=value for a label or annotation.
func v1Pair(field FilterField, item string) (FilterNode, string) {
	i := strings.IndexAny(item, ":=")
	if i < 0 {
		return nil, "want name:value (or name=value)"
	}
	name, value := strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
	if name == "" {
		return nil, "empty name before '" + item[i:i+1] + "' (want name:value)"
	}
	key := SanitizeLabelName(name)
	if value == "*" {
		return &FilterComparison{Field: field, Op: OpEquals, Values: []string{key}}, ""
	}
	return v1Value(field, key, value), ""
}

// orOf is the OR of ns: nil for none, the node itself for one.
func orOf(ns []FilterNode) FilterNode {
	switch len(ns) {
	case 0:
		return nil
	case 1:
		return ns[0]
	}
	return &FilterOr{Operands: ns}
}

// andOf is the AND of ns: nil for none, the node itself for one.
func andOf(ns []FilterNode) FilterNode {
	switch len(ns) {
	case 0:
		return nil
	case 1:
		return ns[0]
	}
	and := &FilterAnd{}
	for _, n := range ns {
		and.add(n)
	}
	return and
}

// And is the filter that matches the rows both f and g match.
func (f Filter) And(g Filter) Filter {
	var ns []FilterNode
	for _, n := range []FilterNode{f.Root, g.Root} {
		if n != nil {
			ns = append(ns, n)
		}
	}
	return Filter{Root: andOf(ns)}
}
