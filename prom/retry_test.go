package prom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// failFirstRequests answers the first n requests with answer, then normally.
func failFirstRequests(n int, answer func(w http.ResponseWriter, r *http.Request)) func(int, fakeReq, http.ResponseWriter, *http.Request) bool {
	return func(i int, _ fakeReq, w http.ResponseWriter, r *http.Request) bool {
		if i < n {
			answer(w, r)
			return true
		}
		return false
	}
}

func answerStatus(code int, headers map[string]string, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// resetHTTPConn drops the connection with a TCP reset.
func resetHTTPConn(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	_ = conn.(*net.TCPConn).SetLinger(0)
	_ = conn.Close()
}

func TestRetriesTransientAnswers(t *testing.T) {
	cases := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		reason RetryReason
		waits  []time.Duration
	}{
		{"429 with Retry-After seconds", answerStatus(429, map[string]string{"Retry-After": "3"}, ""), RetryThrottled,
			[]time.Duration{3 * time.Second, 3 * time.Second}},
		{"429 without Retry-After", answerStatus(429, nil, `{"message":"Rate exceeded"}`), RetryThrottled,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"400 ThrottlingException in the body", answerStatus(400, nil, `{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}`),
			RetryThrottled, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"400 ThrottlingException in the header", answerStatus(400, map[string]string{"X-Amzn-ErrorType": "ThrottlingException"}, `{"message":"Rate exceeded"}`),
			RetryThrottled, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"403 ThrottlingException", answerStatus(403, nil, `ThrottlingException: slow down`), RetryThrottled,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"503", answerStatus(503, map[string]string{"Retry-After": "1"}, `{"status":"error","errorType":"timeout","error":"query timed out"}`),
			RetryUnavailable, []time.Duration{time.Second, time.Second}},
		{"504", answerStatus(504, nil, "<html>gateway timeout</html>"), RetryGatewayTimeout,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"connection reset", resetHTTPConn, RetryConnection, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeProm(t)
			fake.script = failFirstRequests(2, tc.answer)
			src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
			res, err := src.Query(context.Background(), "up", fakeEnd)
			require.NoError(t, err)
			require.NotNil(t, res.Value)
			require.Equal(t, tc.waits, rec.all())
			st := src.Stats()
			require.EqualValues(t, 2, st.Retries[tc.reason])
			require.EqualValues(t, 2, st.RetriesTotal())
			require.EqualValues(t, 3, st.Requests)
			require.Zero(t, st.Failures)
		})
	}
}

func TestBackoffIsExponentialCappedAndJittered(t *testing.T) {
	fake := newFakeProm(t)
	fake.script = failFirstRequests(100, answerStatus(503, nil, ""))
	var ceilings []time.Duration
	jitter := func(c time.Duration) time.Duration { ceilings = append(ceilings, c); return c / 2 }
	src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL, RetryMaxWait: 500 * time.Millisecond, Retries: 6},
		WithHTTPJitter(jitter))
	_, err := src.Query(context.Background(), "up", fakeEnd)
	require.ErrorContains(t, err, "HTTP 503")
	require.ErrorContains(t, err, "gave up after 6 retries")
	ms := time.Millisecond
	require.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 500 * ms, 500 * ms, 500 * ms}, ceilings)
	require.Equal(t, []time.Duration{50 * ms, 100 * ms, 200 * ms, 250 * ms, 250 * ms, 250 * ms}, rec.all(), "full jitter draws below the ceiling")
	st := src.Stats()
	require.EqualValues(t, 7, st.Requests)
	require.EqualValues(t, 1, st.Failures)
}

func TestDefaultRetryBudget(t *testing.T) {
	fake := newFakeProm(t)
	fake.script = failFirstRequests(100, answerStatus(429, map[string]string{"Retry-After": "60"}, ""))
	src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
	_, err := src.Query(context.Background(), "up", fakeEnd)
	require.ErrorContains(t, err, "gave up after 5 retries")
	require.Len(t, fake.requests(), 6)
	for _, w := range rec.all() {
		require.Equal(t, DefaultRetryMaxWait, w, "Retry-After is capped")
	}

	none, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL, Retries: -1})
	_, err = none.Query(context.Background(), "up", fakeEnd)
	require.ErrorContains(t, err, "HTTP 429")
	require.NotContains(t, err.Error(), "gave up")
	require.EqualValues(t, 1, none.Stats().Requests)
}

func TestRealJitterStaysWithinCeiling(t *testing.T) {
	for i := 0; i < 1000; i++ {
		d := fullJitter(time.Second)
		require.True(t, d >= 0 && d <= time.Second, "%v", d)
	}
	require.Zero(t, fullJitter(0))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 12 ", 12 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Mon, 08 Jan 2024 00:00:30 GMT", 30 * time.Second, true},
		{"Sunday, 07-Jan-24 23:59:00 GMT", 0, true}, // in the past: no wait
		{"99999999999", 24 * time.Hour, true},
	}
	for _, tc := range cases {
		got, ok := parseRetryAfter(tc.in, now)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestRetryAfterDateUsesInjectedClock(t *testing.T) {
	now := time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	fake := newFakeProm(t)
	fake.script = failFirstRequests(2, func(w http.ResponseWriter, r *http.Request) {
		answerStatus(429, map[string]string{"Retry-After": now.Add(4 * time.Second).Format(http.TimeFormat)}, "")(w, r)
	})
	src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL}, WithHTTPClock(func() time.Time { return now }))
	_, err := src.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{4 * time.Second, 4 * time.Second}, rec.all())
}

func TestPermanentAnswersAreNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 500, 502} {
		fake := newFakeProm(t)
		fake.script = failFirstRequests(1, answerStatus(code, nil, `{"status":"error","errorType":"x","error":"no"}`))
		src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
		_, err := src.Query(context.Background(), "up", fakeEnd)
		require.Error(t, err, "status %d", code)
		require.Empty(t, rec.all(), "status %d", code)
		require.Len(t, fake.requests(), 1, "status %d", code)
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	fake := newFakeProm(t)
	fake.script = func(n int, _ fakeReq, _ http.ResponseWriter, r *http.Request) bool {
		if n < 2 {
			<-r.Context().Done() // never answer; the client gives up
			return true
		}
		return false
	}
	src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL, QueryTimeout: 50 * time.Millisecond})
	_, err := src.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)
	require.Len(t, rec.all(), 2)
	require.EqualValues(t, 2, src.Stats().Retries[RetryTimeout])
	require.Equal(t, "0.05", fake.requests()[0].Form.Get("timeout"), "the timeout is passed to the store")

	// Out of retries, the error says what happened.
	fake.script = func(_ int, _ fakeReq, _ http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	}
	_, err = src.Query(context.Background(), "up", fakeEnd)
	require.ErrorContains(t, err, "no answer within the query timeout (50ms)")
	require.ErrorContains(t, err, "gave up after 5 retries")
}

func TestCancellationIsNeitherRetriedNorAFailure(t *testing.T) {
	t.Run("during the request", func(t *testing.T) {
		fake := newFakeProm(t)
		arrived := make(chan struct{})
		fake.script = func(_ int, _ fakeReq, _ http.ResponseWriter, r *http.Request) bool {
			close(arrived)
			<-r.Context().Done()
			return true
		}
		src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		_, err := src.Query(ctx, "up", fakeEnd)
		require.ErrorIs(t, err, context.Canceled)
		require.Empty(t, rec.all())
		st := src.Stats()
		require.EqualValues(t, 1, st.Requests)
		require.Zero(t, st.Failures)
		require.Zero(t, st.RetriesTotal())
	})
	t.Run("during the backoff", func(t *testing.T) {
		fake := newFakeProm(t)
		fake.script = failFirstRequests(100, answerStatus(503, nil, ""))
		ctx, cancel := context.WithCancel(context.Background())
		sleep := func(ctx context.Context, _ time.Duration) error { cancel(); <-ctx.Done(); return ctx.Err() }
		src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL}, WithHTTPSleep(sleep))
		_, err := src.QueryRange(ctx, "up", fakeEnd.Add(-time.Hour), fakeEnd, time.Minute)
		require.ErrorIs(t, err, context.Canceled)
		require.EqualValues(t, 1, src.Stats().Requests)
		require.Zero(t, src.Stats().Failures)
	})
	t.Run("caller deadline", func(t *testing.T) {
		fake := newFakeProm(t)
		fake.hold = time.Minute
		src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, err := src.Query(ctx, "up", fakeEnd)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Zero(t, src.Stats().Failures)
		require.Zero(t, src.Stats().RetriesTotal())
	})
	t.Run("already cancelled", func(t *testing.T) {
		fake := newFakeProm(t)
		src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := src.Query(ctx, "up", fakeEnd)
		require.ErrorIs(t, err, context.Canceled)
		require.Empty(t, fake.requests())
	})
}

func TestConcurrencyIsBounded(t *testing.T) {
	fake := newFakeProm(t)
	fake.hold = 20 * time.Millisecond
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL, Concurrency: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := src.Query(context.Background(), "up", fakeEnd)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 3, fake.peakInflight())
	require.EqualValues(t, 12, src.Stats().Queries)
}

func TestClassifyRetry(t *testing.T) {
	cases := []struct {
		err    error
		reason RetryReason
		ok     bool
	}{
		{&HTTPError{StatusCode: 429}, RetryThrottled, true},
		{&HTTPError{StatusCode: 400, throttling: true}, RetryThrottled, true},
		{&HTTPError{StatusCode: 500, throttling: true}, "", false},
		{&HTTPError{StatusCode: 422}, "", false},
		{&attemptTimeoutError{}, RetryTimeout, true},
		{&transportError{err: io.ErrUnexpectedEOF}, RetryConnection, true},
		{&transportError{err: &credentialFileError{what: "x", path: "y", err: errors.New("z")}}, "", false},
		{errors.New("decode response"), "", false},
	}
	for _, tc := range cases {
		reason, ok := classifyRetry(tc.err)
		require.Equal(t, tc.ok, ok, "%v", tc.err)
		require.Equal(t, tc.reason, reason, "%v", tc.err)
		// Callers see the errors wrapped (a window, a retry count).
		wrapped := fmt.Errorf("build 1h window: %w (gave up after 5 retries)", tc.err)
		reason, ok = RetryReasonOf(wrapped)
		require.Equal(t, tc.ok, ok, "%v", wrapped)
		require.Equal(t, tc.reason, reason, "%v", wrapped)
	}
}
