package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/store"
)

// status prints an asset prefix that is damaged (blocks, no index) instead
// of skipping it as a store written before assets.
func TestPrintCoverageDamagedAssets(t *testing.T) {
	var sb strings.Builder
	printCoverage(&sb, federator.Coverage{Clusters: []federator.ClusterCoverage{{Cluster: "east",
		Assets: []federator.ResolutionCoverage{{Resolution: store.Hourly}, {Resolution: store.Daily, Damaged: "index missing (2 blocks)"}}}}})
	require.Contains(t, sb.String(), "damaged: index missing (2 blocks)")
	require.NotContains(t, sb.String(), "1h assets", "no assets and no damage: not listed")
}
