// Package api answers OpenCost-compatible cost questions over the combined
// store: request parameters (window, aggregate, filter, sharing), and the
// /allocation response shape.
//
// # Caveats
//
//   - Relative windows are in UTC and end at now rounded up to their unit
//     ("7d" ends at tomorrow 00:00 and covers today), as OpenCost's do.
//   - Weeks start on Sunday.
package api
