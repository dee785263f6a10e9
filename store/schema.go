package store

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/costfed/costfed/allocation"
)

// SchemaVersion is the block schema written by this build. Readers accept this
// version and older ones; columns are only ever added, never reordered or
// retyped, so an older reader can refuse a newer file by version alone.
const SchemaVersion = 1

// Column names of the block schema, in file order. They follow OpenCost's
// allocation JSON field names so SQL over the files reads like the API.
const (
	colName      = "name"
	colStart     = "start"
	colEnd       = "end"
	colServices  = "services"
	colLabels    = "labels"
	colAnnots    = "annotations"
	colNSLabels  = "namespaceLabels"
	colNSAnnots  = "namespaceAnnotations"
	colPVs       = "pvs"
	colLBs       = "lbAllocations"
	colPriceSrc  = "priceSource"
	colPod       = "pod"
	tsUnitMillis = arrow.Millisecond
)

// stringColumn is a string property stored as its own column.
type stringColumn struct {
	name string
	ref  func(*allocation.Allocation) *string
}

// floatColumn is a float quantity stored as its own column.
type floatColumn struct {
	name string
	ref  func(*allocation.Allocation) *float64
}

// mapColumn is a string→string map stored as a Parquet MAP.
type mapColumn struct {
	name string
	ref  func(*allocation.Allocation) *map[string]string
}

// The tables below are the single description of the flat columns: encoding
// and decoding both walk them, so the two can never disagree.
var stringColumns = []stringColumn{
	{"cluster", func(a *allocation.Allocation) *string { return &a.Properties.Cluster }},
	{"node", func(a *allocation.Allocation) *string { return &a.Properties.Node }},
	{"namespace", func(a *allocation.Allocation) *string { return &a.Properties.Namespace }},
	{colPod, func(a *allocation.Allocation) *string { return &a.Properties.Pod }},
	{"container", func(a *allocation.Allocation) *string { return &a.Properties.Container }},
	{"controller", func(a *allocation.Allocation) *string { return &a.Properties.Controller }},
	{"controllerKind", func(a *allocation.Allocation) *string { return &a.Properties.ControllerKind }},
	{"providerID", func(a *allocation.Allocation) *string { return &a.Properties.ProviderID }},
}

var floatColumns = []floatColumn{
	{"cpuCoreHours", func(a *allocation.Allocation) *float64 { return &a.CPUCoreHours }},
	{"cpuCoreRequestAverage", func(a *allocation.Allocation) *float64 { return &a.CPUCoreRequestAverage }},
	{"cpuCoreUsageAverage", func(a *allocation.Allocation) *float64 { return &a.CPUCoreUsageAverage }},
	{"cpuCoreUsageMax", func(a *allocation.Allocation) *float64 { return &a.CPUCoreUsageMax }},
	{"cpuCost", func(a *allocation.Allocation) *float64 { return &a.CPUCost }},
	{"cpuCostAdjustment", func(a *allocation.Allocation) *float64 { return &a.CPUCostAdjustment }},
	{"cpuCostIdle", func(a *allocation.Allocation) *float64 { return &a.CPUCostIdle }},
	{"gpuHours", func(a *allocation.Allocation) *float64 { return &a.GPUHours }},
	{"gpuRequestAverage", func(a *allocation.Allocation) *float64 { return &a.GPURequestAverage }},
	{"gpuUsageAverage", func(a *allocation.Allocation) *float64 { return &a.GPUUsageAverage }},
	{"gpuCost", func(a *allocation.Allocation) *float64 { return &a.GPUCost }},
	{"gpuCostAdjustment", func(a *allocation.Allocation) *float64 { return &a.GPUCostAdjustment }},
	{"gpuCostIdle", func(a *allocation.Allocation) *float64 { return &a.GPUCostIdle }},
	{"ramByteHours", func(a *allocation.Allocation) *float64 { return &a.RAMByteHours }},
	{"ramByteRequestAverage", func(a *allocation.Allocation) *float64 { return &a.RAMBytesRequestAverage }},
	{"ramByteUsageAverage", func(a *allocation.Allocation) *float64 { return &a.RAMBytesUsageAverage }},
	{"ramByteUsageMax", func(a *allocation.Allocation) *float64 { return &a.RAMBytesUsageMax }},
	{"ramCost", func(a *allocation.Allocation) *float64 { return &a.RAMCost }},
	{"ramCostAdjustment", func(a *allocation.Allocation) *float64 { return &a.RAMCostAdjustment }},
	{"ramCostIdle", func(a *allocation.Allocation) *float64 { return &a.RAMCostIdle }},
	{"networkTransferBytes", func(a *allocation.Allocation) *float64 { return &a.NetworkTransferBytes }},
	{"networkReceiveBytes", func(a *allocation.Allocation) *float64 { return &a.NetworkReceiveBytes }},
	{"networkCost", func(a *allocation.Allocation) *float64 { return &a.NetworkCost }},
	{"networkCrossZoneCost", func(a *allocation.Allocation) *float64 { return &a.NetworkCrossZoneCost }},
	{"networkCrossRegionCost", func(a *allocation.Allocation) *float64 { return &a.NetworkCrossRegionCost }},
	{"networkInternetCost", func(a *allocation.Allocation) *float64 { return &a.NetworkInternetCost }},
	{"networkCostAdjustment", func(a *allocation.Allocation) *float64 { return &a.NetworkCostAdjustment }},
	{"loadBalancerCost", func(a *allocation.Allocation) *float64 { return &a.LoadBalancerCost }},
	{"loadBalancerCostAdjustment", func(a *allocation.Allocation) *float64 { return &a.LoadBalancerCostAdjustment }},
	{"pvCostAdjustment", func(a *allocation.Allocation) *float64 { return &a.PVCostAdjustment }},
	{"sharedCost", func(a *allocation.Allocation) *float64 { return &a.SharedCost }},
	{"externalCost", func(a *allocation.Allocation) *float64 { return &a.ExternalCost }},
}

var mapColumns = []mapColumn{
	{colLabels, func(a *allocation.Allocation) *map[string]string { return &a.Properties.Labels }},
	{colAnnots, func(a *allocation.Allocation) *map[string]string { return &a.Properties.Annotations }},
	{colNSLabels, func(a *allocation.Allocation) *map[string]string { return &a.Properties.NamespaceLabels }},
	{colNSAnnots, func(a *allocation.Allocation) *map[string]string { return &a.Properties.NamespaceAnnotations }},
}

var (
	timestampType = &arrow.TimestampType{Unit: tsUnitMillis, TimeZone: "UTC"}
	pvStructType  = arrow.StructOf(
		arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "byteHours", Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: "cost", Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: "providerID", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "adjustment", Type: arrow.PrimitiveTypes.Float64},
	)
	lbStructType = arrow.StructOf(
		arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "service", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "cost", Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: "private", Type: arrow.FixedWidthTypes.Boolean},
		arrow.Field{Name: "ip", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "hours", Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: "adjustment", Type: arrow.PrimitiveTypes.Float64},
	)
	stringMapType = arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String)
)

// blockSchema is the Arrow schema of a block, schema version 1. Field order is
// fixed: name, start, end, string properties, services, maps, floats, pvs, lbs,
// price source.
var blockSchema = buildSchema()

func buildSchema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: colName, Type: arrow.BinaryTypes.String},
		{Name: colStart, Type: timestampType},
		{Name: colEnd, Type: timestampType},
	}
	for _, c := range stringColumns {
		fields = append(fields, arrow.Field{Name: c.name, Type: arrow.BinaryTypes.String})
	}
	fields = append(fields, arrow.Field{Name: colServices, Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true})
	for _, c := range mapColumns {
		fields = append(fields, arrow.Field{Name: c.name, Type: stringMapType, Nullable: true})
	}
	for _, c := range floatColumns {
		fields = append(fields, arrow.Field{Name: c.name, Type: arrow.PrimitiveTypes.Float64})
	}
	fields = append(fields,
		arrow.Field{Name: colPVs, Type: arrow.ListOf(pvStructType), Nullable: true},
		arrow.Field{Name: colLBs, Type: arrow.ListOf(lbStructType), Nullable: true},
		arrow.Field{Name: colPriceSrc, Type: arrow.BinaryTypes.String},
	)
	return arrow.NewSchema(fields, nil)
}

// FilterColumn names the column holding a filter field's values, for the
// plain string fields (cluster, node, namespace, pod, container, controller
// name and kind, provider ID); ok is false for the others.
func FilterColumn(f allocation.FilterField) (column string, ok bool) {
	switch f {
	case allocation.FieldCluster:
		return "cluster", true
	case allocation.FieldNode:
		return "node", true
	case allocation.FieldNamespace:
		return "namespace", true
	case allocation.FieldPod:
		return "pod", true
	case allocation.FieldContainer:
		return "container", true
	case allocation.FieldControllerName:
		return "controller", true
	case allocation.FieldControllerKind:
		return "controllerKind", true
	case allocation.FieldProviderID:
		return "providerID", true
	}
	return "", false
}
