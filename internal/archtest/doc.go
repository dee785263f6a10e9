// Package archtest holds tests of the repository's structure: that each
// package imports only what DESIGN.md's package table allows it, so a
// boundary break fails CI rather than a review. It has no code of its own.
//
// Where the code goes beyond the table on purpose (config importing
// objstore's provider configs, store importing config, sim importing
// Prometheus's TSDB), the test's table says so in a comment.
package archtest
