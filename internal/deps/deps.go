package deps

import (
	_ "github.com/apache/arrow-go/v18/arrow/ipc"
	_ "github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/go-kit/log"
	_ "github.com/prometheus/client_golang/api/prometheus/v1"
	_ "github.com/prometheus/client_golang/prometheus/promauto"
	_ "github.com/prometheus/prometheus/promql"
	_ "github.com/prometheus/prometheus/promql/parser"
	_ "github.com/prometheus/prometheus/tsdb"
	_ "github.com/prometheus/sigv4"
	_ "github.com/robfig/cron/v3"
	_ "github.com/stretchr/testify/require"
	_ "github.com/thanos-io/objstore/providers/azure"
	_ "github.com/thanos-io/objstore/providers/filesystem"
	_ "github.com/thanos-io/objstore/providers/gcs"
	_ "github.com/thanos-io/objstore/providers/s3"
	_ "go.yaml.in/yaml/v3"
)
