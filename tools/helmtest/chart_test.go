package helmtest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/costfed/costfed/config"
)

var update = flag.Bool("update", false, "rewrite the golden renders under the chart's testdata/golden")

const (
	chartDir  = "../../deploy/helm/costfed"
	release   = "costfed"
	namespace = "costfed"
	// Where the chart mounts the config directory in every costfed pod.
	configDir = "/etc/costfed"
)

// site is what the docs pass with --set for one install (docs/amp-setup.md).
var site = []string{
	"global.amp.workspaceId=ws-0123abcd-4567-89ef-0123-456789abcdef",
	"global.amp.sigv4.region=eu-west-1",
	"serviceAccount.create=false",
	"serviceAccount.name=costfed-amp",
}

// renderCase is one `helm template` of the chart: a profile file and --set
// values, as a user would install it.
type renderCase struct {
	name    string   // golden file testdata/golden/<name>.yaml
	profile string   // file under profiles/, or "" for values.yaml alone
	set     []string // --set values, applied in order
}

var cases = []renderCase{
	{name: "quick-start-primary", profile: "quick-start-primary.yaml", set: site},
	{name: "federated-agent", profile: "federated-agent.yaml", set: append(slices.Clone(site), "clusterId=prod-us-2")},
	{name: "federated-primary", profile: "federated-primary.yaml", set: append(slices.Clone(site), "clusterId=prod-eu-1")},
	// The guide's SigV4 proxy sidecar instead of native SigV4, and a
	// ServiceAccount the chart creates with the IRSA annotation.
	{name: "federated-agent-sigv4-proxy", profile: "federated-agent.yaml", set: []string{
		"clusterId=prod-us-2",
		"global.amp.prometheusServerEndpoint=http://localhost:8005/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef",
		"sigV4Proxy.enabled=true",
		"sigV4Proxy.region=us-east-2",
		"sigV4Proxy.host=aps-workspaces.us-east-2.amazonaws.com",
		"serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/costfed",
	}},
	// Everything else switched on: a long-running federator, an API token,
	// ServiceMonitors, the store from values, scheduling and config overrides.
	{name: "federated-primary-all-options", profile: "federated-primary.yaml", set: append(slices.Clone(site),
		"clusterId=prod-eu-1",
		"federator.mode=deployment",
		"federator.config.retention.1d=400d",
		"federator.config.clusters.deny={sandbox-1}",
		"serve.auth.existingSecret=costfed-api-token",
		"serve.config.server.cache_bytes=512MiB",
		"serve.replicas=2",
		"ui.enabled=true",
		"serviceMonitor.enabled=true",
		"serviceMonitor.labels.release=prometheus",
		"federatedStore.config.type=S3",
		"federatedStore.config.config.bucket=costfed-etl",
		"federatedStore.config.config.endpoint=s3.amazonaws.com",
		"federatedStore.config.config.region=eu-west-1",
		"federatedStore.config.config.aws_sdk_auth=true",
		"agent.config.schedule=*/5 * * * *",
		"agent.config.prometheus.concurrency=3",
		"nodeSelector.kubernetes\\.io/os=linux",
		"tolerations[0].key=dedicated",
		"tolerations[0].operator=Equal",
		"tolerations[0].value=cost",
		"tolerations[0].effect=NoSchedule",
		"agent.resources.limits.memory=2Gi",
	)},
}

// The Secrets a user creates before installing (docs/amp-setup.md): the
// guide's federated-store.yaml and an API token. A pod that mounts any other
// Secret that the render does not hold fails the test.
var userSecrets = map[string]map[string]string{
	"kubecost-object-store": {"federated-store.yaml": `type: S3
config:
  bucket: "kubecost-etl-metrics"
  endpoint: "s3.amazonaws.com"
  region: "eu-west-1"
  insecure: false
  signature_version2: false
  put_user_metadata:
    "X-Amz-Acl": "bucket-owner-full-control"
  http_config:
    idle_conn_timeout: 90s
    response_header_timeout: 2m
    insecure_skip_verify: false
  trace:
    enable: true
  part_size: 134217728
`},
	"costfed-api-token": {"token": "s3cr3t-token\n"},
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.LoadDir(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// values merges the profile file and the --set values as helm does (later
// wins); the chart's values.yaml is coalesced under them by the caller.
func (c renderCase) values(t *testing.T) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if c.profile != "" {
		v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "profiles", c.profile))
		if err != nil {
			t.Fatalf("read profile: %v", err)
		}
		vals = v.AsMap()
	}
	for _, s := range c.set {
		if err := strvals.ParseInto(s, vals); err != nil {
			t.Fatalf("--set %s: %v", s, err)
		}
	}
	return vals
}

// render is `helm template costfed CHART -n costfed -f PROFILE --set …`:
// every rendered file but NOTES.txt, in file order.
func render(ch *chart.Chart, vals map[string]any) (map[string]string, error) {
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: release, Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	for name := range out {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(out, name)
		}
	}
	return out, nil
}

// object is one rendered manifest: its source file, its text and its
// strictly decoded typed value.
type object struct {
	source, text string
	kind, name   string
	obj          any
}

// splitObjects splits the render into documents in a stable order (file
// name, then order in the file), dropping empty ones.
func splitObjects(t *testing.T, files map[string]string) []object {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []object
	for _, n := range names {
		docs := releaseutil.SplitManifests(files[n])
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			text := docs[k]
			if strings.TrimSpace(stripComments(text)) == "" {
				continue
			}
			objs = append(objs, object{source: n, text: text})
		}
	}
	return objs
}

func stripComments(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the
// chart writes: the CRD's Go types would bring in the Prometheus Operator
// module for three fields. Strict decoding still catches a field the chart
// adds without adding it here.
type serviceMonitor struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   serviceMonitorMeta `json:"metadata"`
	Spec       serviceMonitorSpec `json:"spec"`
}

type serviceMonitorMeta struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

type serviceMonitorSpec struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	Endpoints []serviceMonitorEndpt `json:"endpoints"`
}

type serviceMonitorEndpt struct {
	Port     string `json:"port"`
	Path     string `json:"path"`
	Interval string `json:"interval"`
}

// newTyped returns a pointer to the k8s.io/api type of apiVersion/kind.
func newTyped(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1/CronJob":
		return &batchv1.CronJob{}, nil
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &serviceMonitor{}, nil
	}
	return nil, fmt.Errorf("no type for apiVersion %q kind %q: add it to newTyped", apiVersion, kind)
}

// decodeStrict decodes one manifest into its typed value: YAML to JSON, then
// Kubernetes' own strict JSON decoding (unknown fields, duplicate fields and
// fields in the wrong case are errors).
func decodeStrict(o *object) error {
	js, err := yaml.YAMLToJSONStrict([]byte(o.text))
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return fmt.Errorf("type meta: %w", err)
	}
	typed, err := newTyped(tm.APIVersion, tm.Kind)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(js, typed)
	if err != nil {
		return fmt.Errorf("decode %s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return fmt.Errorf("decode %s %s strictly: %w", tm.Kind, tm.Metadata.Name, errors.Join(strictErrs...))
	}
	o.kind, o.name, o.obj = tm.Kind, tm.Metadata.Name, typed
	return nil
}

func TestProfiles(t *testing.T) {
	ch := loadChart(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals := c.values(t)

			lintClean(t, vals)

			files, err := render(ch, vals)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			objs := splitObjects(t, files)
			if len(objs) == 0 {
				t.Fatal("the render holds no object")
			}
			for i := range objs {
				if err := decodeStrict(&objs[i]); err != nil {
					t.Errorf("%s: %v", objs[i].source, err)
				}
			}
			if t.Failed() {
				return
			}
			compareGolden(t, c.name, objs)
			r := index(t, objs)
			for _, p := range r.pods() {
				t.Run(p.owner, func(t *testing.T) {
					checkPodSecurity(t, p)
					checkProbes(t, p)
					checkVolumes(t, p)
					checkConfigs(t, r, p)
				})
			}
			checkServices(t, r)
		})
	}
}

// lintClean runs `helm lint --strict` with the case's values: no warning, no
// error.
func lintClean(t *testing.T, vals map[string]any) {
	t.Helper()
	l := lint.AllWithKubeVersion(chartDir, vals, namespace, nil)
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %v", m)
		} else {
			t.Logf("helm lint: %v", m)
		}
	}
}

func compareGolden(t *testing.T, name string, objs []object) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("# Code generated by tools/helmtest (go test ./... -update). DO NOT EDIT.\n")
	for _, o := range objs {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", o.source, o.text)
	}
	file := filepath.Join(chartDir, "testdata", "golden", name+".yaml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read golden render (create it with -update): %v", err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("render differs from %s (run go test ./... -update and review the diff):\n%s", file, firstDiff(string(want), b.String()))
	}
}

// firstDiff shows the first differing line with a little context.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  golden: %q\n  render: %q", i+1, wl, gl)
		}
	}
	return "(same lines, different bytes)"
}

// rendered indexes a render's objects by kind and name.
type rendered struct {
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    []*corev1.Service
	deployments []*appsv1.Deployment
	cronJobs    []*batchv1.CronJob
	monitors    []*serviceMonitor
	accounts    map[string]*corev1.ServiceAccount
}

func index(t *testing.T, objs []object) *rendered {
	t.Helper()
	r := &rendered{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, accounts: map[string]*corev1.ServiceAccount{}}
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.kind + "/" + o.name
		if seen[key] {
			t.Errorf("%s is rendered twice", key)
		}
		seen[key] = true
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			r.configMaps[v.Name] = v
		case *corev1.Secret:
			r.secrets[v.Name] = v
		case *corev1.Service:
			r.services = append(r.services, v)
		case *corev1.ServiceAccount:
			r.accounts[v.Name] = v
		case *appsv1.Deployment:
			r.deployments = append(r.deployments, v)
		case *batchv1.CronJob:
			r.cronJobs = append(r.cronJobs, v)
		case *serviceMonitor:
			r.monitors = append(r.monitors, v)
		}
	}
	return r
}

// pod is one pod template of the render and what owns it.
type pod struct {
	owner   string // Deployment/name or CronJob/name
	oneShot bool   // a Job's pod: runs to completion, serves nothing
	spec    corev1.PodSpec
	labels  map[string]string
}

func (r *rendered) pods() []pod {
	var ps []pod
	for _, d := range r.deployments {
		ps = append(ps, pod{owner: "Deployment/" + d.Name, spec: d.Spec.Template.Spec, labels: d.Spec.Template.Labels})
	}
	for _, c := range r.cronJobs {
		tpl := c.Spec.JobTemplate.Spec.Template
		ps = append(ps, pod{owner: "CronJob/" + c.Name, oneShot: true, spec: tpl.Spec, labels: tpl.Labels})
	}
	return ps
}

func allContainers(s corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(s.InitContainers), s.Containers...)
}

// checkPodSecurity: non-root, a read-only root filesystem, no privilege
// escalation, every capability dropped, the RuntimeDefault seccomp profile,
// no service account token.
func checkPodSecurity(t *testing.T, p pod) {
	t.Helper()
	ps := p.spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if ps == nil || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Error("pod securityContext.runAsUser is not a non-zero uid")
	}
	if ps == nil || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod securityContext.seccompProfile is not RuntimeDefault")
	}
	if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken is not false (no component talks to the Kubernetes API)")
	}
	if p.spec.HostNetwork || p.spec.HostPID || p.spec.HostIPC {
		t.Error("pod uses a host namespace")
	}
	for _, c := range allContainers(p.spec) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s: no securityContext", c.Name)
			continue
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("container %s: runAsNonRoot is not true", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s: privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("container %s: capabilities do not drop ALL and add none: %+v", c.Name, sc.Capabilities)
		}
		if c.Resources.Requests.Memory().IsZero() {
			t.Errorf("container %s: no memory request", c.Name)
		}
	}
}

// checkProbes: every long-running container has liveness and readiness
// probes on a port it declares; costfed's and the UI's liveness is GET
// /healthz (never /readyz: a source outage must not restart the agent). A
// Job's pod (federator --once) serves no HTTP and has none.
func checkProbes(t *testing.T, p pod) {
	t.Helper()
	for _, c := range p.spec.Containers {
		if p.oneShot {
			if c.LivenessProbe != nil || c.ReadinessProbe != nil {
				t.Errorf("container %s of a Job has probes", c.Name)
			}
			if !slices.Contains(c.Args, "--once") {
				t.Errorf("container %s of a CronJob does not run --once: %v", c.Name, c.Args)
			}
			continue
		}
		if c.LivenessProbe == nil || c.ReadinessProbe == nil {
			t.Errorf("container %s: liveness %v, readiness %v", c.Name, c.LivenessProbe != nil, c.ReadinessProbe != nil)
			continue
		}
		for what, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			var port string
			switch {
			case pr.HTTPGet != nil:
				port = pr.HTTPGet.Port.String()
			case pr.TCPSocket != nil:
				port = pr.TCPSocket.Port.String()
			default:
				t.Errorf("container %s: %s probe is neither HTTP nor TCP", c.Name, what)
				continue
			}
			if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
				return cp.Name == port || fmt.Sprint(cp.ContainerPort) == port
			}) {
				t.Errorf("container %s: %s probe port %s is not a declared port", c.Name, what, port)
			}
		}
		if c.Name == "sigv4proxy" {
			continue // a TCP check of the proxy's port: it has no health path of its own
		}
		if h := c.LivenessProbe.HTTPGet; h == nil || h.Path != "/healthz" {
			t.Errorf("container %s: liveness probe is not GET /healthz", c.Name)
		}
		want := "/healthz"
		if c.Name == "agent" {
			want = "/readyz" // 503 while the source is down: no traffic, no restart
		}
		if h := c.ReadinessProbe.HTTPGet; h == nil || h.Path != want {
			t.Errorf("container %s: readiness probe is not GET %s", c.Name, want)
		}
	}
}

// checkVolumes: every mount names a volume of the pod, and every costfed
// container has a writable /tmp (its root filesystem is read-only).
func checkVolumes(t *testing.T, p pod) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range p.spec.Volumes {
		vols[v.Name] = v
	}
	for _, c := range allContainers(p.spec) {
		tmp := false
		for _, m := range c.VolumeMounts {
			v, ok := vols[m.Name]
			if !ok {
				t.Errorf("container %s mounts volume %q, which the pod does not have", c.Name, m.Name)
				continue
			}
			if m.MountPath == "/tmp" && v.EmptyDir != nil && !m.ReadOnly {
				tmp = true
			}
		}
		if !tmp && c.Name != "copy-ui" {
			t.Errorf("container %s has no writable emptyDir on /tmp", c.Name)
		}
	}
}

// checkConfigs lays out each costfed container's /etc/costfed as the kubelet
// would (the projected ConfigMap and Secret items) and runs `costfed config
// check` on the file its --config names.
func checkConfigs(t *testing.T, r *rendered, p pod) {
	t.Helper()
	for _, c := range p.spec.Containers {
		if !strings.Contains(c.Image, "costfed") || len(c.Args) == 0 {
			continue
		}
		var cfg string
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--config="); ok {
				cfg = v
			}
		}
		if cfg == "" {
			t.Errorf("container %s: no --config in %v", c.Name, c.Args)
			continue
		}
		dir := t.TempDir()
		for _, m := range c.VolumeMounts {
			if m.MountPath != configDir {
				continue
			}
			for _, v := range p.spec.Volumes {
				if v.Name == m.Name {
					materialize(t, r, v, dir)
				}
			}
		}
		rel, ok := strings.CutPrefix(cfg, configDir+"/")
		if !ok {
			t.Errorf("container %s: --config %s is not under %s", c.Name, cfg, configDir)
			continue
		}
		kind := config.KindFederator
		if c.Args[0] == "agent" {
			kind = config.KindAgent
		}
		noEnv := func(string) (string, bool) { return "", false }
		if out, err := config.Check(kind, filepath.Join(dir, rel), noEnv); err != nil {
			t.Errorf("costfed config check --kind %s %s (container %s):\n%s", kind, cfg, c.Name, problems(err))
		} else {
			t.Logf("costfed config check --kind %s %s: ok\n%s", kind, cfg, out)
		}
		// The store file alone, as the guide's secret holds it.
		if _, err := config.Check(config.KindStore, filepath.Join(dir, "federated-store.yaml"), noEnv); err != nil {
			t.Errorf("costfed config check --kind store federated-store.yaml (container %s):\n%s", c.Name, problems(err))
		}
	}
}

func problems(err error) string {
	var b strings.Builder
	for _, p := range config.Problems(err) {
		fmt.Fprintf(&b, "  %v\n", p)
	}
	return b.String()
}

// materialize writes a projected (or plain ConfigMap/Secret) volume's files
// into dir, from the render's ConfigMaps and Secrets or the Secrets a user
// creates before installing.
func materialize(t *testing.T, r *rendered, v corev1.Volume, dir string) {
	t.Helper()
	write := func(name string, items []corev1.KeyToPath, data map[string]string) {
		if data == nil {
			t.Errorf("volume %s: %s does not exist", v.Name, name)
			return
		}
		for _, it := range items {
			content, ok := data[it.Key]
			if !ok {
				t.Errorf("volume %s: %s has no key %q", v.Name, name, it.Key)
				continue
			}
			file := filepath.Join(dir, filepath.FromSlash(path.Clean(it.Path)))
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	configMap := func(name string, items []corev1.KeyToPath) {
		var data map[string]string
		if cm, ok := r.configMaps[name]; ok {
			data = cm.Data
		}
		write("ConfigMap "+name, items, data)
	}
	secret := func(name string, items []corev1.KeyToPath) {
		data := userSecrets[name]
		if s, ok := r.secrets[name]; ok {
			data = map[string]string{}
			for k, b := range s.Data {
				data[k] = string(b)
			}
			for k, v := range s.StringData {
				data[k] = v
			}
		}
		write("Secret "+name, items, data)
	}
	switch {
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			switch {
			case s.ConfigMap != nil:
				configMap(s.ConfigMap.Name, s.ConfigMap.Items)
			case s.Secret != nil:
				secret(s.Secret.Name, s.Secret.Items)
			default:
				t.Errorf("volume %s: a projected source this test cannot lay out", v.Name)
			}
		}
	case v.ConfigMap != nil:
		configMap(v.ConfigMap.Name, v.ConfigMap.Items)
	case v.Secret != nil:
		secret(v.Secret.SecretName, v.Secret.Items)
	default:
		t.Errorf("volume %s on %s is not a ConfigMap, Secret or projected volume", v.Name, configDir)
	}
}

// checkServices: each Service selects exactly one workload's pods and
// targets a port they declare; serve's Service is what kubectl cost and the
// UI's proxy address.
func checkServices(t *testing.T, r *rendered) {
	t.Helper()
	pods := r.pods()
	for _, s := range r.services {
		var matched []pod
		for _, p := range pods {
			if selects(s.Spec.Selector, p.labels) {
				matched = append(matched, p)
			}
		}
		if len(matched) != 1 {
			t.Errorf("Service %s selects %d workloads, want 1", s.Name, len(matched))
			continue
		}
		for _, sp := range s.Spec.Ports {
			if !slices.ContainsFunc(matched[0].spec.Containers, func(c corev1.Container) bool {
				return slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
					return cp.Name == sp.TargetPort.String() || fmt.Sprint(cp.ContainerPort) == sp.TargetPort.String()
				})
			}) {
				t.Errorf("Service %s port %s targets %s, which %s does not declare", s.Name, sp.Name, sp.TargetPort.String(), matched[0].owner)
			}
		}
		if strings.HasSuffix(s.Name, "-serve") {
			// kubectl cost --service-port 9003 port-forwards to the pod's
			// port 9003 or proxies to the Service's: both must be 9003.
			if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 9003 {
				t.Errorf("Service %s: ports %+v, want one port 9003", s.Name, s.Spec.Ports)
			}
		}
	}
	for _, m := range r.monitors {
		found := false
		for _, s := range r.services {
			if selects(m.Spec.Selector.MatchLabels, s.Labels) {
				found = true
			}
		}
		if !found {
			t.Errorf("ServiceMonitor %s selects no Service", m.Metadata.Name)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestBadValues: values that cannot work fail the render with a message
// naming the value to set, instead of rendering pods that crash.
func TestBadValues(t *testing.T) {
	ch := loadChart(t)
	for _, c := range []struct {
		name string
		rc   renderCase
		want string
	}{
		{"no cluster id", renderCase{profile: "federated-agent.yaml", set: site}, "clusterId is required"},
		{"no source", renderCase{set: []string{"clusterId=a"}}, "set global.amp.enabled"},
		{"no region", renderCase{profile: "federated-agent.yaml", set: []string{"clusterId=a", "global.amp.workspaceId=ws-1"}}, "global.amp.sigv4.region is required"},
		{"central and cluster id", renderCase{profile: "quick-start-primary.yaml", set: append(slices.Clone(site), "clusterId=a")}, "exclude each other"},
		{"ui without serve", renderCase{profile: "federated-agent.yaml", set: append(slices.Clone(site), "clusterId=a", "ui.enabled=true")}, "ui.enabled needs serve.enabled"},
		{"bad federator mode", renderCase{profile: "federated-primary.yaml", set: append(slices.Clone(site), "clusterId=a", "federator.mode=job")}, "federator.mode must be cronjob or deployment"},
		{"proxy without amp", renderCase{set: []string{"clusterId=a", "agent.prometheus.url=http://prometheus:9090", "sigV4Proxy.enabled=true"}}, "sigV4Proxy.enabled needs global.amp.enabled"},
		{"existing account without name", renderCase{profile: "federated-agent.yaml", set: []string{"clusterId=a", "global.amp.workspaceId=ws-1", "global.amp.sigv4.region=us-east-1", "serviceAccount.create=false"}}, "serviceAccount.name is required"},
		{"no store", renderCase{profile: "federated-agent.yaml", set: append(slices.Clone(site), "clusterId=a", "federatedStore.existingSecret=")}, "federatedStore.existingSecret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(ch, c.rc.values(t))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("render error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestDecodeStrict: the decoding the render goes through rejects what a
// template typo produces.
func TestDecodeStrict(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"unknown field", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replica: 1}\n", `unknown field "spec.replica"`},
		{"wrong case", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {Type: ClusterIP}\n", `unknown field "spec.Type"`},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: x, a: y}\n", "already set"},
		{"wrong type", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: http}]}\n", "cannot unmarshal"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", "no type for"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := object{text: c.doc}
			err := decodeStrict(&o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("decode error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestLongNames: with the longest release name Helm allows, every object
// name is still one Kubernetes accepts (a CronJob's at most 52 characters,
// as its Jobs get a suffix; a Service's a DNS-1035 label).
func TestLongNames(t *testing.T) {
	ch := loadChart(t)
	rc := renderCase{profile: "federated-primary.yaml", set: append(slices.Clone(site),
		"clusterId=a", "ui.enabled=true", "federator.mode=cronjob",
		"fullnameOverride="+strings.Repeat("x", 53))}
	files, err := render(ch, rc.values(t))
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	objs := splitObjects(t, files)
	for i := range objs {
		if err := decodeStrict(&objs[i]); err != nil {
			t.Fatalf("%s: %v", objs[i].source, err)
		}
		o := objs[i]
		limit := 63
		if o.kind == "CronJob" {
			limit = 52
		}
		if len(o.name) > limit {
			t.Errorf("%s %s: name of %d characters, more than %d", o.kind, o.name, len(o.name), limit)
		}
		check := validation.IsDNS1123Subdomain
		if o.kind == "Service" {
			check = validation.IsDNS1035Label
		}
		for _, msg := range check(o.name) {
			t.Errorf("%s %s: %s", o.kind, o.name, msg)
		}
	}
}
