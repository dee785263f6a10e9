package faultbucket

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"
)

func TestParseCrashPoint(t *testing.T) {
	for in, want := range map[string]struct {
		n int
		w When
	}{"3": {3, KillAfter}, "1:before": {1, KillBefore}, " 7:mid ": {7, KillMid}, "2:after": {2, KillAfter}} {
		n, w, err := ParseCrashPoint(in)
		require.NoError(t, err, in)
		require.Equal(t, want.n, n, in)
		require.Equal(t, want.w, w, in)
	}
	for _, bad := range []string{"", "0", "-1", "x", "3:later", "3:"} {
		_, _, err := ParseCrashPoint(bad)
		require.Error(t, err, bad)
	}
}

// Kill is called at the chosen write and point; a Kill that returns (as
// here) lets the write go on, except a body cut halfway.
func TestCrasher(t *testing.T) {
	ctx := context.Background()
	body := bytes.Repeat([]byte("x"), 1000)
	for _, tc := range []struct {
		when       When
		landed     bool // the 2nd object exists when Kill runs
		uploadFail bool
	}{{KillBefore, false, false}, {KillAfter, true, false}, {KillMid, false, true}} {
		t.Run(tc.when.String(), func(t *testing.T) {
			mem := objstore.NewInMemBucket()
			var log strings.Builder
			kills := 0
			c := &Crasher{Bucket: mem, N: 2, When: tc.when, Log: &log}
			c.Kill = func() {
				kills++
				if tc.when == KillMid {
					return // inside the in-memory upload, which holds its lock
				}
				ok, err := mem.Exists(ctx, "b")
				require.NoError(t, err)
				require.Equal(t, tc.landed, ok)
			}
			require.NoError(t, c.Upload(ctx, "a", bytes.NewReader(body)))
			require.Zero(t, kills)
			err := c.Upload(ctx, "b", bytes.NewReader(body))
			if tc.uploadFail {
				// Halfway through the body, then (Kill returned) after
				// the failed upload.
				require.Equal(t, 2, kills)
				require.True(t, errors.Is(err, ErrInjected), "%v", err)
				ok, err := mem.Exists(ctx, "b")
				require.NoError(t, err)
				require.False(t, ok, "a body cut halfway lands nothing")
			} else {
				require.Equal(t, 1, kills)
				require.NoError(t, err)
			}
			require.NoError(t, c.Delete(ctx, "a"))
			require.Equal(t, "1 upload a\n2 upload b\n3 delete a\n", log.String())
		})
	}
}
