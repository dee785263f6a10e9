package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/prom"
)

func TestHTTPConfigFromAgentConfig(t *testing.T) {
	parse := func(y string) config.Agent {
		t.Helper()
		a, err := config.ParseAgent([]byte(y), "agent.yaml", nil)
		require.NoError(t, err)
		require.NoError(t, a.Validate())
		return a
	}
	amp := parse(`cluster_id: prod-1
prometheus:
  url: https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1
  cluster_filter: true
  headers: {X-Scope-OrgID: team-a}
  retries: 0
  auth:
    sigv4: {role_arn: "arn:aws:iam::1:role/r"}
`)
	hc := httpConfig(amp)
	require.Equal(t, &prom.SigV4Auth{Region: "eu-west-1", RoleARN: "arn:aws:iam::1:role/r"}, hc.SigV4)
	require.Equal(t, "prod-1", hc.ClusterFilter)
	require.Equal(t, "cluster_id", hc.ClusterLabel)
	require.Equal(t, map[string]string{"X-Scope-OrgID": "team-a"}, hc.Headers)
	require.Equal(t, -1, hc.Retries, "retries: 0 means no retries")
	require.Equal(t, 2*time.Minute, hc.QueryTimeout)
	require.Nil(t, hc.BasicAuth)

	proxy := parse("cluster_id: c\nprometheus:\n  url: http://localhost:8005/workspaces/ws-1\n")
	hc = httpConfig(proxy)
	require.Nil(t, hc.SigV4, "the SigV4 proxy form needs no auth")
	require.Empty(t, hc.ClusterFilter)
	require.Equal(t, 5, hc.Retries)

	basic := parse("cluster_id: c\nprometheus:\n  url: http://p:9090\n  auth: {type: basic, username: u, password: pw}\n")
	require.Equal(t, &prom.BasicAuth{Username: "u", Password: "pw"}, httpConfig(basic).BasicAuth)
}
