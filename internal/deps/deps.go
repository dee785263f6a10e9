package deps
import (
 _ "github.com/thanos-io/objstore/providers/s3"
 _ "github.com/thanos-io/objstore/providers/gcs"
 _ "github.com/thanos-io/objstore/providers/azure"
 _ "github.com/thanos-io/objstore/providers/filesystem"
 _ "github.com/apache/arrow-go/v18/parquet/pqarrow"
 _ "github.com/apache/arrow-go/v18/arrow/ipc"
 _ "github.com/stretchr/testify/require"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/prometheus/client_golang/prometheus/promauto"
 _ "github.com/go-kit/log"
)
