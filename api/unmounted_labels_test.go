package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/store"
)

// TestUnmountedRowKeepsNamespaceLabels: a namespace with an unmounted
// volume row (no labels) keeps its pods' common labels under
// aggregate=namespace&includeAggregatedMetadata=true, on the columnar path
// and on the row path (accumulated over two blocks), as in OpenCost, whose
// integration test TestNamespaceLabels reads them there.
func TestUnmountedRowKeepsNamespaceLabels(t *testing.T) {
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	var blocks []store.Block
	for d := range 2 {
		w := win(day0.Add(time.Duration(d)*day), day)
		row := func(name, pod, container string, labels map[string]string) allocation.Allocation {
			return allocation.Allocation{Name: name, Window: w, Start: w.Start, End: w.End, CPUCoreHours: 1, CPUCost: 1,
				Properties: allocation.Properties{Cluster: "c1", Node: "n1", Namespace: "data", Pod: pod, Container: container,
					Labels: labels, NamespaceLabels: map[string]string{"team": "data"}}}
		}
		unmounted := row("c1/__unmounted__/data/data-unmounted-pvcs/__unmounted__", "data"+allocation.UnmountedPVCsSuffix, allocation.UnmountedSuffix, nil)
		unmounted.Properties.Node, unmounted.Properties.NamespaceLabels = "", nil
		rows := []allocation.Allocation{
			unmounted,
			row("c1/n1/data/db-0/db", "db-0", "db", map[string]string{"team": "data", "app": "db"}),
			row("c1/n1/data/web-0/web", "web-0", "web", map[string]string{"team": "data", "app": "web"}),
		}
		blocks = append(blocks, store.Block{Meta: meta(store.CombinedID, store.Daily, w), Rows: rows})
	}
	_, err := st.Commit(context.Background(), blocks, store.CommitOptions{})
	require.NoError(t, err)
	a := newTestAPI(t, st, nil)
	for _, q := range []string{"", "&shareIdle=true&includeIdle=true"} { // the second takes the row path
		rec := a.get(t, "/allocation?window="+dayPair(0, 48)+"&aggregate=namespace&accumulate=true&includeAggregatedMetadata=true"+q)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var resp struct {
			Data []map[string]struct {
				Properties struct {
					Labels          map[string]string `json:"labels"`
					NamespaceLabels map[string]string `json:"namespaceLabels"`
				} `json:"properties"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		require.Len(t, resp.Data, 1)
		p := resp.Data[0]["data"].Properties
		require.Equal(t, map[string]string{"team": "data"}, p.Labels, q)
		require.Equal(t, map[string]string{"team": "data"}, p.NamespaceLabels, q)
	}
}
