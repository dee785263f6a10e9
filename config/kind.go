package config

import (
	"bytes"

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
// "config" means a store, "cluster_id" an agent, anything else a federator (whose keys are all
// optional). Unparsable data gives KindFederator; parsing it reports the error.
func DetectKind(data []byte) Kind {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return KindFederator
	}
	root := documentRoot(&doc)
	if root.Kind != yaml.MappingNode {
		return KindFederator
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "type", "config":
			return KindStore
		case "cluster_id":
			return KindAgent
		}
	}
	return KindFederator
}
