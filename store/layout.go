package store

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/costfed/costfed/allocation"
)

// Resolution is the length of a block's window: one hour or one day.
type Resolution string

// The resolutions costfed builds.
const (
	Hourly Resolution = "1h"
	Daily  Resolution = "1d"
)

// Resolutions lists every valid resolution, finest first.
var Resolutions = []Resolution{Hourly, Daily}

// ParseResolution accepts "1h" or "1d".
func ParseResolution(s string) (Resolution, error) {
	switch Resolution(s) {
	case Hourly, Daily:
		return Resolution(s), nil
	}
	return "", fmt.Errorf("unknown resolution %q (want 1h or 1d)", s)
}

// Duration is the window length of the resolution.
func (r Resolution) Duration() time.Duration {
	switch r {
	case Hourly:
		return time.Hour
	case Daily:
		return 24 * time.Hour
	}
	return 0
}

// AlignedWindow reports whether w is exactly one window of r, aligned to UTC
// multiples of its length since the Unix epoch (as Kubecost's keys are).
func (r Resolution) AlignedWindow(w allocation.Window) bool {
	d := r.Duration()
	return d > 0 && w.Duration() == d && w.Start.Unix()%int64(d/time.Second) == 0
}

// CombinedID is the reserved cluster segment of the combined store. No cluster may
// use it as its id.
const CombinedID = "combined"

const (
	rootPrefix = "federated"
	// allocationsDir follows Kubecost's federated ETL layout with "parquet" in
	// place of "bingen", so operators find blocks where they expect them.
	allocationsDir = parquetDir + "/allocations"
	// parquetDir holds everything costfed writes for a cluster, allocations
	// and assets; a prefix without it is not costfed's (see ListClusters).
	parquetDir  = "etl/parquet"
	blockSuffix = ".parquet"
	indexName   = "index.json"
)

var clusterIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$`)

// ValidateClusterID checks that id is usable as one object-key segment: letters,
// digits, '.', '_' and '-', starting with a letter or digit, at most 128
// characters. So a cluster id can never climb out of, or into, another cluster's
// prefix. The combined store's id is accepted here; config rejects it for agents.
func ValidateClusterID(id string) error {
	if !clusterIDPattern.MatchString(id) {
		return fmt.Errorf("cluster id %q is not a valid key segment (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 128)", id)
	}
	return nil
}

// Prefix is the directory of one cluster's blocks of one resolution.
func Prefix(cluster string, res Resolution) string {
	return rootPrefix + "/" + cluster + "/" + allocationsDir + "/" + string(res) + "/"
}

// BlockKey is the object key of a block: <prefix><startUnix>-<endUnix>.parquet.
func BlockKey(cluster string, res Resolution, w allocation.Window) string {
	return Prefix(cluster, res) + strconv.FormatInt(w.Start.Unix(), 10) + "-" + strconv.FormatInt(w.End.Unix(), 10) + blockSuffix
}

// IndexKey is the object key of the index of one cluster and resolution.
func IndexKey(cluster string, res Resolution) string {
	return Prefix(cluster, res) + indexName
}

// BlockRef names a block by what its key encodes.
type BlockRef struct {
	Cluster    string
	Resolution Resolution
	Window     allocation.Window
}

// Key is the block's object key.
func (r BlockRef) Key() string { return BlockKey(r.Cluster, r.Resolution, r.Window) }

// ParseBlockKey splits a block key into cluster, resolution and window, and
// checks that the window is aligned to the resolution.
func ParseBlockKey(key string) (BlockRef, error) {
	rest, ok := strings.CutPrefix(key, rootPrefix+"/")
	if !ok {
		return BlockRef{}, fmt.Errorf("block key %q: not under %s/", key, rootPrefix)
	}
	cluster, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return BlockRef{}, fmt.Errorf("block key %q: no cluster segment", key)
	}
	if err := ValidateClusterID(cluster); err != nil {
		return BlockRef{}, fmt.Errorf("block key %q: %w", key, err)
	}
	rest, ok = strings.CutPrefix(rest, allocationsDir+"/")
	if !ok {
		return BlockRef{}, fmt.Errorf("block key %q: not under %s/", key, allocationsDir)
	}
	resStr, name, ok := strings.Cut(rest, "/")
	if !ok {
		return BlockRef{}, fmt.Errorf("block key %q: no resolution segment", key)
	}
	res, err := ParseResolution(resStr)
	if err != nil {
		return BlockRef{}, fmt.Errorf("block key %q: %w", key, err)
	}
	w, err := parseWindowName(strings.TrimSuffix(name, blockSuffix))
	if err != nil || !strings.HasSuffix(name, blockSuffix) {
		return BlockRef{}, fmt.Errorf("block key %q: file name is not <startUnix>-<endUnix>%s", key, blockSuffix)
	}
	if !res.AlignedWindow(w) {
		return BlockRef{}, fmt.Errorf("block key %q: window %s is not one aligned %s window", key, w, res)
	}
	return BlockRef{Cluster: cluster, Resolution: res, Window: w}, nil
}

func parseWindowName(s string) (allocation.Window, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return allocation.Window{}, fmt.Errorf("no '-' in %q", s)
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return allocation.Window{}, err
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil {
		return allocation.Window{}, err
	}
	return allocation.NewWindow(time.Unix(start, 0), time.Unix(end, 0))
}
