// Package helmtest tests the Helm chart in deploy/helm/costfed without a
// cluster: for each documented profile (and a few extra value sets) it lints
// the chart, renders it as `helm template` would, decodes every object
// strictly into its k8s.io/api type (an unknown or misspelt field fails),
// compares the render with the golden file under the chart's testdata/golden,
// checks the pods' security settings and probes, and runs `costfed config
// check` (config.Check) on every config file exactly as a pod would see it:
// the ConfigMap and the store Secret projected into /etc/costfed.
//
// It is its own Go module (Helm and the Kubernetes API types are test
// dependencies the costfed binary must not link), with a replace of the root
// module so it calls the config package of this checkout.
//
//	cd tools/helmtest && go test ./...            # check
//	cd tools/helmtest && go test ./... -update    # rewrite the golden renders, then review the diff
package helmtest
