package allocation

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func cmp(f FilterField, key string, op FilterOp, values ...string) *FilterComparison {
	return &FilterComparison{Field: f, Key: key, Op: op, Values: values}
}

func TestParseFilterTrees(t *testing.T) {
	ns := func(v ...string) *FilterComparison { return cmp(FieldNamespace, "", OpEquals, v...) }
	pod := cmp(FieldPod, "", OpEquals, "p")
	tests := []struct {
		in   string
		want FilterNode
	}{
		{`namespace:"a"`, ns("a")},
		{`namespace:"a","b"`, ns("a", "b")},
		{`label[app]:"web"`, cmp(FieldLabel, "app", OpEquals, "web")},
		{`label[ app.kubernetes.io/name ]!~>:"x"`, cmp(FieldLabel, "app.kubernetes.io/name", OpNotHasSuffix, "x")},
		{`label:"app"`, cmp(FieldLabel, "", OpEquals, "app")},
		{`services~:"s"`, cmp(FieldServices, "", OpContains, "s")},
		{`NameSpace:"a"`, ns("a")},
		{`cluster!:"c"`, cmp(FieldCluster, "", OpNotEquals, "c")},
		{`node<~:"n"`, cmp(FieldNode, "", OpHasPrefix, "n")},
		{`node!<~:"n"`, cmp(FieldNode, "", OpNotHasPrefix, "n")},
		{`controllerName!~:"x"`, cmp(FieldControllerName, "", OpNotContains, "x")},
		{`namespace:"a"+pod:"p"`, &FilterAnd{Operands: []FilterNode{ns("a"), pod}}},
		{`namespace:"a"|pod:"p"`, &FilterOr{Operands: []FilterNode{ns("a"), pod}}},
		// + binds tighter than |.
		{`namespace:"a"|namespace:"b"+pod:"p"`, &FilterOr{Operands: []FilterNode{ns("a"), &FilterAnd{Operands: []FilterNode{ns("b"), pod}}}}},
		{`namespace:"a"+pod:"p"|namespace:"b"`, &FilterOr{Operands: []FilterNode{&FilterAnd{Operands: []FilterNode{ns("a"), pod}}, ns("b")}}},
		{`(namespace:"a"|namespace:"b")+pod:"p"`, &FilterAnd{Operands: []FilterNode{&FilterOr{Operands: []FilterNode{ns("a"), ns("b")}}, pod}}},
		// Redundant parentheses disappear; nested groups of one kind are flattened.
		{`((namespace:"a"))`, ns("a")},
		{`namespace:"a"|(namespace:"b"|namespace:"c")`, &FilterOr{Operands: []FilterNode{ns("a"), ns("b"), ns("c")}}},
		{`(namespace:"a"+pod:"p")+namespace:"c"`, &FilterAnd{Operands: []FilterNode{ns("a"), pod, ns("c")}}},
		// Escapes.
		{`pod:"a\"b\\c\n\t\r"`, cmp(FieldPod, "", OpEquals, "a\"b\\c\n\t\r")},
		{`pod:""`, cmp(FieldPod, "", OpEquals, "")},
		{`pod:"héllo ✓"`, cmp(FieldPod, "", OpEquals, "héllo ✓")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFilter(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, f.Root)
		})
	}
}

func TestParseFilterEmpty(t *testing.T) {
	for _, in := range []string{"", "   ", "\n\t"} {
		f, err := ParseFilter(in)
		require.NoError(t, err)
		require.True(t, f.IsEmpty())
		require.True(t, f.Matches(&Allocation{}))
		require.Equal(t, "", f.String())
	}
}

func TestFilterString(t *testing.T) {
	tests := map[string]string{
		`namespace : "a" , "b"`:                             `namespace:"a","b"`,
		`namespace:"a"|namespace:"b"+pod:"p"`:               `namespace:"a"|(namespace:"b"+pod:"p")`,
		`(namespace:"a"|namespace:"b")+pod:"p"`:             `(namespace:"a"|namespace:"b")+pod:"p"`,
		`label[ app ]:"x\"y"`:                               `label[app]:"x\"y"`,
		`pod:"a` + "\n" + `b"`:                              `pod:"a\nb"`,
		`controllerkind!~>:"job"+services<~:"s"|cluster:""`: `(controllerKind!~>:"job"+services<~:"s")|cluster:""`,
	}
	for in, want := range tests {
		f, err := ParseFilter(in)
		require.NoError(t, err, in)
		require.Equal(t, want, f.String(), in)
		again, err := ParseFilter(f.String())
		require.NoError(t, err)
		require.Equal(t, f, again)
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{`namespace:abc`, 11, "expected a quoted value after ':'"},
		{`namespace:"a",`, 15, "expected a quoted value after ','"},
		{`namespace:"a"+`, 15, "the filter ends too soon: expected a comparison after '+'"},
		{`namespace:"a"|`, 15, "the filter ends too soon: expected a comparison after '|'"},
		{`+namespace:"a"`, 1, "expected a comparison (such as namespace:\"a\") or '(' at the start of the filter, found '+'"},
		{`colour:"red"`, 1, `unknown field "colour"`},
		{`namespace "a"`, 11, "expected an operator"},
		{`namespace`, 10, "expected an operator"},
		{`namespace[x]:"a"`, 10, "field namespace takes no [key]"},
		{`label[x:"a"`, 6, "'[' without a closing ']'"},
		{`label[]:"a"`, 6, "empty key in '[]'"},
		{`(namespace:"a"`, 15, "missing ')' to close the '(' at position 1"},
		{`(namespace:"a" pod:"b")`, 16, "expected '+', '|' or ')', found \"pod\""},
		{`namespace:"a")`, 14, "')' without a matching '('"},
		{`namespace:"a" pod:"b"`, 15, "expected '+', '|' or the end of the filter, found \"pod\""},
		{`namespace:"a`, 11, "quoted value without a closing '\"'"},
		{`namespace:"a\`, 11, "quoted value without a closing '\"'"},
		{`namespace:"a\x"`, 13, `unknown escape '\x'`},
		{`namespace="a"`, 10, "unexpected character '='"},
		{`namespace~"a"`, 10, "unknown operator"},
		{`namespace!"a"`, 10, "unknown operator"},
		{`()`, 2, "expected a comparison"},
		// Positions count characters, not bytes.
		{`pod:"é"+é`, 9, "unexpected character 'é'"},
		{"pod:\"a\"+\xff", 9, "invalid UTF-8"},
		{strings.Repeat("(", maxFilterDepth+1) + `pod:"a"`, maxFilterDepth + 1, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseFilter(tt.in)
			require.Error(t, err)
			var fe *FilterError
			require.True(t, errors.As(err, &fe), "%T", err)
			require.Equal(t, tt.pos, fe.Pos, fe.Msg)
			require.Contains(t, fe.Msg, tt.msg)
		})
	}
}

func TestFilterErrorShowsCaret(t *testing.T) {
	_, err := ParseFilter(`namespace:"kube-system"+pod:x`)
	require.EqualError(t, err, "filter: position 29: expected a quoted value after ':'\n"+
		`namespace:"kube-system"+pod:x`+"\n"+
		strings.Repeat(" ", 28)+"^")

	_, err = ParseFilter("pod:\"a\"\n+x")
	require.ErrorContains(t, err, "\npod:\"a\" +x\n         ^")
}

func TestFilterMatches(t *testing.T) {
	a := &Allocation{Properties: Properties{
		Cluster: "c1", Node: "n1", Namespace: "web", Pod: "web-1", Container: "app",
		Controller: "web", ControllerKind: "deployment", ProviderID: "i-1",
		Services:    []string{"web", "web-internal"},
		Labels:      map[string]string{"app": "web", "app_kubernetes_io_name": "front"},
		Annotations: map[string]string{"owner": "alice"},
	}}
	empty := &Allocation{}
	tests := []struct {
		filter     string
		a, noLabel bool // whether it matches a, and the empty row
	}{
		{`namespace:"web"`, true, false},
		{`namespace:"__unallocated__"`, false, true},
		{`namespace!:"web","db"`, false, true},
		{`namespace~:"e"`, true, false},
		{`namespace!~:"e"`, false, true},
		{`pod<~:"web-"`, true, false},
		{`pod~>:"-1"`, true, false},
		{`pod~:""`, true, true},
		{`services:"web"`, true, false},
		{`services~:"web-internal"`, true, false},
		{`services:"internal"`, false, false},
		{`services~>:"internal"`, true, false},
		{`services<~:"web-"`, true, false},
		{`services:""`, false, true},
		{`services!:"web"`, false, true},
		{`label[app]:"web"`, true, false},
		{`label[app]:""`, false, true},
		{`label[app]:"__unallocated__"`, false, true},
		{`label[app.kubernetes.io/name]:"front"`, true, false},
		{`label:"app"`, true, false},
		{`label:"app.kubernetes.io/name"`, true, false},
		{`label<~:"app_"`, true, false},
		{`label~>:"name"`, true, false},
		{`label!:"app"`, false, true},
		{`annotation[owner]:"alice"`, true, false},
		{`controllerKind:"deployment"+controllerName:"web"`, true, false},
		{`providerID:"i-1"|cluster:"c2"`, true, false},
		{`cluster:"c2"|(node:"n1"+container:"app")`, true, false},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.filter)
		require.NoError(t, err, tt.filter)
		require.Equal(t, tt.a, f.Matches(a), "%s on a", tt.filter)
		require.Equal(t, tt.noLabel, f.Matches(empty), "%s on the empty row", tt.filter)
	}
}

func TestFilterOpNames(t *testing.T) {
	for op := OpEquals; op <= OpNotHasSuffix; op++ {
		f, err := ParseFilter("pod" + op.String() + `"x"`)
		require.NoError(t, err, op.String())
		require.Equal(t, op, f.Root.(*FilterComparison).Op)
		require.Equal(t, strings.HasPrefix(op.String(), "!"), op.Negated())
	}
	for f := FieldCluster; f <= FieldNamespaceAnnotation; f++ {
		_, err := ParseFilter(f.String() + `:"x"`)
		require.NoError(t, err, f.String())
	}
}

// FuzzParseFilter: parsing never panics; errors are *FilterError with a position
// inside the input (or just past it); every accepted filter prints to a filter
// that parses to an equal tree and prints the same again.
func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{
		`namespace:"kube-system"+label[app]:"web"`,
		`namespace:"a","b" | (cluster<~:"prod-" + controllerKind!:"job")`,
		`label[app.kubernetes.io/name]!~>:"x"|services~:"s"`,
		`pod:"a\"b\\c\n"`,
		`((pod:"a"))`,
		`namespace:abc`,
		`(`,
		`label[`,
		`pod:"é"+é`,
		"\xff",
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		parsed, err := ParseFilter(in)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is a %T, not a *FilterError", err, err)
			}
			if fe.Pos < 1 || fe.Pos > utf8.RuneCountInString(in)+1 {
				t.Fatalf("position %d outside the input of %d characters", fe.Pos, utf8.RuneCountInString(in))
			}
			return
		}
		printed := parsed.String()
		again, err := ParseFilter(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", in, printed, err)
		}
		if !reflect.DeepEqual(parsed, again) {
			t.Fatalf("%q printed as %q, which parses to a different tree", in, printed)
		}
		if again.String() != printed {
			t.Fatalf("%q printed as %q, then as %q", in, printed, again.String())
		}
	})
}

func TestFilterRequiredValues(t *testing.T) {
	for _, c := range []struct {
		filter string
		field  FilterField
		want   []string
		ok     bool
	}{
		{``, FieldCluster, nil, false},
		{`cluster:"a","b"`, FieldCluster, []string{"a", "b"}, true},
		{`cluster:"a"`, FieldNamespace, nil, false},
		{`namespace:"x"+cluster:"a"`, FieldCluster, []string{"a"}, true},
		{`namespace:"x"|cluster:"a"`, FieldCluster, nil, false},
		{`cluster!:"a"`, FieldCluster, nil, false},
		{`cluster<~:"a"`, FieldCluster, nil, false},
		{`namespace:"__unallocated__"`, FieldNamespace, []string{"__unallocated__", ""}, true},
		{`label[cluster]:"a"`, FieldCluster, nil, false},
		{`(cluster:"a"|cluster:"b")+pod:"p"`, FieldCluster, nil, false},
	} {
		f, err := ParseFilter(c.filter)
		require.NoError(t, err)
		got, ok := f.RequiredValues(c.field)
		require.Equal(t, c.ok, ok, c.filter)
		require.Equal(t, c.want, got, c.filter)
	}
}
