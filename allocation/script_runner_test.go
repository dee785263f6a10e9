package allocation

import (
	"math"
	"strings"
	"testing"
)

// The script runner must fail loudly on every kind of wrong expectation, or the
// scripts would prove nothing.
func TestScriptRunnerCatchesMistakes(t *testing.T) {
	const fixture = `set 2024-01-07T00:00:00Z +24h
row cluster=c1 node=n1 namespace=a pod=p container=c cpuCost=2
row cluster=c1 node=n1 namespace=b pod=q container=c cpuCost=3

`
	tests := []struct {
		name, script, want string
	}{
		{"wrong number", "aggregate by=namespace\nexpect\na cpuCost=2.5\nb cpuCost=3\n", "cpuCost = 2, want 2.5"},
		{"missing row", "aggregate by=namespace\nexpect\na cpuCost=2\nb cpuCost=3\nc cpuCost=1\n", `no row "c"`},
		{"unlisted row", "aggregate by=namespace\nexpect\na cpuCost=2\n", `unexpected row "b"`},
		{"wrong text", "aggregate by=namespace\nexpect\na cpuCost=2 namespace=b\nb\n", `namespace = "a", want "b"`},
		{"unknown field", "aggregate by=namespace\nexpect\na colour=red\nb\n", `unknown field "colour"`},
		{"set count", "aggregate by=namespace\nexpect\nset +0h +1h\na\nb\nset +1h +2h\n", "the answer has 1 sets, the expectation lists 2"},
		{"set window", "aggregate by=namespace\nexpect\nset +0h +1h\na\nb\n", "set window"},
		{"no error", "aggregate by=namespace\nexpect error \"boom\"\n", "want an error"},
		{"other error", "aggregate by=nope\nexpect error \"boom\"\n", `does not contain "boom"`},
		{"unexpected error", "aggregate by=nope\nexpect\n", "unknown property"},
		{"no expect", "aggregate by=namespace\n", "command without an expect line"},
		{"unknown option", "aggregate colour=red\nexpect\n", "colour: unknown option"},
		{"bad row field", "row colour=red\n", `unknown row field "colour"`},
		{"tolerance", "aggregate by=namespace\nexpect tolerance=0.1\na cpuCost=2.3\nb cpuCost=3\n", "cpuCost = 2, want 2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := runScript("meta.txt", fixture+tt.script)
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			joined := strings.Join(all, "\n")
			if !strings.Contains(joined, tt.want) {
				t.Fatalf("errors %q do not mention %q", joined, tt.want)
			}
		})
	}
}

func TestScriptRunnerAcceptsTolerance(t *testing.T) {
	src := "set 2024-01-07T00:00:00Z +24h\nrow namespace=a cpuCost=2\n\naggregate by=namespace\nexpect tolerance=0.1\na cpuCost=2.1 totalCost=10/5\n"
	if errs := runScript("meta.txt", src); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]float64{"2": 2, "1.5Gi": 1.5 * (1 << 30), "10*3/4": 7.5, "4Gi*60/1500": 4.0 * (1 << 30) * 60 / 1500, "-2": -2, "1e-3": 0.001} {
		got, err := parseNumber(in)
		if err != nil || math.Abs(got-want) > 1e-12*math.Abs(want) {
			t.Errorf("parseNumber(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "2**3", "1/"} {
		if _, err := parseNumber(bad); err == nil {
			t.Errorf("parseNumber(%q) succeeded", bad)
		}
	}
}
