package config

import (
	"bytes"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind names one of the three config files.
type Kind string

// The config kinds.
const (
	KindStore     Kind = "store"     // federated-store.yaml
	KindAgent     Kind = "agent"     // agent.yaml
	KindFederator Kind = "federator" // federator.yaml
)

// DetectKind guesses which config data is from its top-level keys: "type" or
// "config" means a store; "cluster_id", a key only agent.yaml has
// ("prometheus", "resolutions", "settle_delay", "prices",
// "producer_instance") or a clusters: mapping with "ids" or "discover" (a
// central agent; the federator's clusters: has allow and deny) an agent;
// anything else a federator (whose keys are all optional). Unparsable data is guessed from the lines that look like
// top-level keys, so that the syntax error is reported for the right kind.
func DetectKind(data []byte) Kind {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return kindOfLines(data)
	}
	root := documentRoot(&doc)
	if root.Kind != yaml.MappingNode {
		return KindFederator
	}
	keys := make([]string, 0, len(root.Content)/2)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i].Value, root.Content[i+1]
		if k == "clusters" && v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				if sub := v.Content[j].Value; sub == "ids" || sub == "discover" {
					k = "clusters.agent" // a central agent's clusters:
				}
			}
		}
		keys = append(keys, k)
	}
	return kindOfKeys(keys)
}

func kindOfKeys(keys []string) Kind {
	for _, k := range keys {
		switch k {
		case "type", "config":
			return KindStore
		case "cluster_id", "clusters.agent", "prometheus", "resolutions", "settle_delay", "prices", "producer_instance":
			return KindAgent
		}
	}
	return KindFederator
}

// kindOfLines reads the keys of lines that start a top-level "key:" entry.
func kindOfLines(data []byte) Kind {
	var keys []string
	for line := range bytes.Lines(data) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '-' {
			continue
		}
		if i := bytes.IndexByte(line, ':'); i > 0 {
			keys = append(keys, strings.Trim(string(bytes.TrimSpace(line[:i])), `"'`))
		}
	}
	return kindOfKeys(keys)
}
