package allocation

import (
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFilterV1(t *testing.T) {
	tests := []struct {
		params map[string]string
		want   string // the filter printed in the filter language
	}{
		{nil, ``},
		{map[string]string{"filterNamespaces": ""}, ``},
		{map[string]string{"filterNamespaces": " , ,"}, ``},
		{map[string]string{"filterNamespaces": "ml"}, `namespace:"ml"`},
		{map[string]string{"filterNamespaces": "a, b ,a"}, `namespace:"a","b"`},
		{map[string]string{"filterNamespaces": "kube*,a,b"}, `namespace<~:"kube"|namespace:"a","b"`},
		{map[string]string{"filterNamespaces": "*"}, `namespace<~:""`},
		{map[string]string{"filterNamespaces": "a*b"}, `namespace:"a*b"`},
		{map[string]string{"filterClusters": "east,west*"}, `cluster:"east"|cluster<~:"west"`},
		{map[string]string{"filterNodes": "n1"}, `node:"n1"`},
		{map[string]string{"filterControllerKinds": "Deployment,job"}, `controllerKind:"deployment","job"`},
		{map[string]string{"filterPods": "web-*"}, `pod<~:"web-"`},
		{map[string]string{"filterContainers": "app"}, `container:"app"`},
		{map[string]string{"filterServices": "web,api*"}, `services:"web"|services<~:"api"`},
		{map[string]string{"filterControllers": "web"}, `controllerName:"web"`},
		{map[string]string{"filterControllers": "web,db*"}, `controllerName:"web"|controllerName<~:"db"`},
		{map[string]string{"filterControllers": "Deployment:web"}, `controllerKind:"deployment"+controllerName:"web"`},
		{map[string]string{"filterControllers": "deployment:web*,db"},
			`(controllerKind:"deployment"+controllerName<~:"web")|controllerName:"db"`},
		{map[string]string{"filterLabels": "app:web"}, `label[app]:"web"`},
		{map[string]string{"filterLabels": "app=web, app:api"}, `label[app]:"web","api"`},
		{map[string]string{"filterLabels": "app.kubernetes.io/name:web*"}, `label[app_kubernetes_io_name]<~:"web"`},
		{map[string]string{"filterLabels": "app:*,team:*"}, `label:"app","team"`},
		{map[string]string{"filterLabels": "app:"}, `label[app]:""`},
		{map[string]string{"filterAnnotations": "url:http://x=y"}, `annotation[url]:"http://x=y"`},
		{map[string]string{"filterLabels": `app:we"b`}, `label[app]:"we\"b"`},
		// Parameters are ANDed, in V1FilterParams order.
		{map[string]string{"filterPods": "p", "filterNamespaces": "a,b", "filterLabels": "app:web"},
			`namespace:"a","b"+pod:"p"+label[app]:"web"`},
		{map[string]string{"filterNamespaces": "a", "filterControllers": "deployment:web"},
			`namespace:"a"+controllerKind:"deployment"+controllerName:"web"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			f, err := ParseFilterV1(tt.params)
			require.NoError(t, err)
			require.Equal(t, tt.want, f.String())
			again, err := ParseFilter(f.String())
			require.NoError(t, err)
			require.Equal(t, f, again, "the printed filter parses back to the same tree")
		})
	}
}

func TestParseFilterV1Errors(t *testing.T) {
	tests := []struct {
		params     map[string]string
		param, msg string
	}{
		{map[string]string{"filterLabels": "app"}, "filterLabels", `"app": want name:value`},
		{map[string]string{"filterLabels": "app:web,team"}, "filterLabels", `"team": want name:value`},
		{map[string]string{"filterLabels": ":web"}, "filterLabels", "empty name before ':'"},
		{map[string]string{"filterAnnotations": " =x"}, "filterAnnotations", "empty name before '='"},
		{map[string]string{"filterControllers": ":web"}, "filterControllers", "empty controller kind"},
		{map[string]string{"filterControllers": "deployment:"}, "filterControllers", "empty controller name"},
		{map[string]string{"filterControllers": "a:b:c"}, "filterControllers", "want name or kind:name"},
		{map[string]string{"filterControllers": "deploy*:web"}, "filterControllers", "not in the kind"},
		{map[string]string{"filterNamespace": "a"}, "filterNamespace", "not a legacy filter parameter"},
		// The first bad parameter in V1FilterParams order is reported.
		{map[string]string{"filterLabels": "x", "filterControllers": ":x"}, "filterControllers", "empty controller kind"},
	}
	for _, tt := range tests {
		t.Run(tt.param+"="+tt.msg, func(t *testing.T) {
			_, err := ParseFilterV1(tt.params)
			var fe *V1FilterError
			require.True(t, errors.As(err, &fe), "%v", err)
			require.Equal(t, tt.param, fe.Param)
			require.ErrorContains(t, err, tt.param+": ")
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

func TestParseFilterV1Matches(t *testing.T) {
	row := func(ns, kind, ctrl string, labels map[string]string, services ...string) *Allocation {
		return &Allocation{Properties: Properties{Namespace: ns, ControllerKind: kind, Controller: ctrl, Labels: labels, Services: services}}
	}
	web := row("web", "deployment", "web", map[string]string{"app": "web", "app_kubernetes_io_name": "frontend"}, "web-svc")
	db := row("db", "statefulset", "db", map[string]string{"app": "db"})
	bare := row("batch", "", "", nil)
	tests := []struct {
		params map[string]string
		match  []*Allocation
	}{
		{map[string]string{"filterNamespaces": "web,db"}, []*Allocation{web, db}},
		{map[string]string{"filterNamespaces": "w*,b*"}, []*Allocation{web, bare}},
		{map[string]string{"filterControllers": "statefulset:db"}, []*Allocation{db}},
		{map[string]string{"filterControllers": "deployment:db"}, nil},
		{map[string]string{"filterLabels": "app.kubernetes.io/name:front*"}, []*Allocation{web}},
		{map[string]string{"filterLabels": "app:*"}, []*Allocation{web, db}},
		{map[string]string{"filterServices": "web-svc"}, []*Allocation{web}},
		{map[string]string{"filterNamespaces": "web,db", "filterLabels": "app:db"}, []*Allocation{db}},
	}
	for _, tt := range tests {
		f, err := ParseFilterV1(tt.params)
		require.NoError(t, err)
		var got []*Allocation
		for _, a := range []*Allocation{web, db, bare} {
			if f.Matches(a) {
				got = append(got, a)
			}
		}
		require.Equal(t, tt.match, got, "%v: %s", tt.params, f)
	}
}

func TestFilterAnd(t *testing.T) {
	a, err := ParseFilter(`namespace:"a"|namespace:"b"`)
	require.NoError(t, err)
	b, err := ParseFilter(`pod:"p"+container:"c"`)
	require.NoError(t, err)
	require.Equal(t, Filter{}, Filter{}.And(Filter{}))
	require.Equal(t, a, a.And(Filter{}))
	require.Equal(t, b, Filter{}.And(b))
	require.Equal(t, `(namespace:"a"|namespace:"b")+pod:"p"+container:"c"`, a.And(b).String())
}

func FuzzParseFilterV1(f *testing.F) {
	f.Add("ml,kube*", "deployment:web*,db", "app:web,app.kubernetes.io/name=x*", "url:http://a=b")
	f.Add("", ":x", "app", "")
	f.Add(",,*", "a:b:c", ":v", "=")
	f.Add("\xff", "d*:x", `a:"\`, "k:*")
	f.Fuzz(func(t *testing.T, namespaces, controllers, labels, annotations string) {
		params := map[string]string{
			"filterNamespaces": namespaces, "filterControllers": controllers,
			"filterLabels": labels, "filterAnnotations": annotations,
		}
		parsed, err := ParseFilterV1(params)
		if err != nil {
			var fe *V1FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is a %T, not a *V1FilterError", err, err)
			}
			if _, ok := params[fe.Param]; !ok {
				t.Fatalf("error names %q, not one of the parameters", fe.Param)
			}
			return
		}
		printed := parsed.String()
		again, err := ParseFilter(printed)
		if err != nil {
			t.Fatalf("%v translates to %q, which does not parse: %v", params, printed, err)
		}
		if !reflect.DeepEqual(parsed, again) {
			t.Fatalf("%v translates to %q, which parses to another tree", params, printed)
		}
		_ = parsed.Matches(&Allocation{})
	})
}
