// Package promproxy holds two loopback HTTP proxies that tests put in front
// of a real Prometheus: one that checks AWS Signature Version 4 as Amazon
// Managed Service for Prometheus does, and one that injects faults on a
// script.
//
// # Basics
//
// Both are http.Handlers; serve them with httptest.NewServer (which listens
// on 127.0.0.1) and point the client under test at the server's URL:
//
//	v := &promproxy.SigV4Verifier{Region: "us-east-1", Service: "aps", AccessKey: "AKID", SecretKey: "secret"}
//	srv := httptest.NewServer(promproxy.NewSigV4Proxy(promURL, v))
//
//	fp := promproxy.NewFaultProxy(promURL,
//		promproxy.Rule{Match: promproxy.OnIndex(0), Fault: promproxy.Fault{Kind: promproxy.Fault429, RetryAfter: "1"}},
//		promproxy.Rule{Match: promproxy.RangeLongerThan(6 * time.Hour), Fault: promproxy.Fault{Kind: promproxy.Fault422}},
//	)
//	srv := httptest.NewServer(fp)
//	// … run the client, then read fp.Injected()
//
// The SigV4 verifier is written from the AWS specification (canonical
// request, string to sign, HMAC-SHA256 key derivation) with the standard
// library only; it shares no code with the AWS SDK that signs, so a test
// through it checks the client's signing for real.
//
// # Caveats
//
//   - The verifier supports what a Prometheus client sends: header-based
//     signatures (not presigned URLs), static credentials, the
//     AWS4-HMAC-SHA256 algorithm, optional session tokens, and signed or
//     UNSIGNED-PAYLOAD bodies. It is a test tool, not a security boundary.
//   - The fault proxy reads whole request bodies (query forms are small) and
//     decides before forwarding; slow answers wait before forwarding, and
//     stop waiting when the client gives up.
//   - Connection resets need HTTP/1.1 (hijacking), which httptest.NewServer
//     serves.
package promproxy
