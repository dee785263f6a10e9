package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/costfed/costfed/internal/textdist"
)

// source remembers where a config came from: the file name and the line of every
// field path seen while decoding, so that Validate can point at the line too.
type source struct {
	file  string
	lines map[string]int // field path → line of its key (or sequence item)
	byLn  map[int][]string
}

func (s *source) fileName() string {
	if s == nil {
		return ""
	}
	return s.file
}

// lineOf returns the line of field, or of its closest ancestor present in the
// file (a missing required field points at its parent section), or 0.
func (s *source) lineOf(field string) int {
	if s == nil {
		return 0
	}
	for f := field; f != ""; f = parentPath(f) {
		if l, ok := s.lines[f]; ok {
			return l
		}
	}
	return 0
}

// fieldAt returns the deepest field path recorded on line, when the paths on that
// line form a single chain (block style); "" when ambiguous (flow style).
func (s *source) fieldAt(line int) string {
	best := ""
	for _, p := range s.byLn[line] {
		switch {
		case best == "" || strings.HasPrefix(p, best):
			best = p
		case strings.HasPrefix(best, p):
		default:
			return ""
		}
	}
	return best
}

func (s *source) note(path string, line int) {
	if path == "" || line <= 0 {
		return
	}
	if _, ok := s.lines[path]; ok {
		return
	}
	s.lines[path] = line
	s.byLn[line] = append(s.byLn[line], path)
}

// parentPath strips the last segment of a field path: "a.b[0].c" → "a.b[0]" →
// "a.b" → "a" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func keyPath(parent, key string) string {
	return parent + "[" + strconv.Quote(key) + "]"
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// decoder runs the strict decoding steps over one YAML document: parse into a node
// tree, expand ${VAR} in scalar values, check every key against the Go type, then
// decode with yaml's own machinery. It collects every problem instead of stopping
// at the first.
type decoder struct {
	src     *source
	lookup  func(string) (string, bool)
	errs    []*FieldError
	seen    map[string]bool
	visited map[visit]bool
	envErr  bool         // a ${VAR} failed: nothing was decoded
	decoded bool         // decode ran, so the value is worth validating
	bad     []*yaml.Node // values that failed their trial decode
}

type visit struct {
	n *yaml.Node
	t reflect.Type
}

func newDecoder(file string, lookup func(string) (string, bool)) *decoder {
	return &decoder{
		src:     &source{file: file, lines: map[string]int{}, byLn: map[int][]string{}},
		lookup:  lookup,
		seen:    map[string]bool{},
		visited: map[visit]bool{},
	}
}

func (d *decoder) fail(line int, field string, err error) {
	fe := &FieldError{File: d.src.file, Line: line, Field: field, Err: err}
	if k := fe.Error(); !d.seen[k] {
		d.seen[k] = true
		d.errs = append(d.errs, fe)
	}
}

// err returns every collected problem, in file order, joined; nil when none.
func (d *decoder) err() error {
	return (&problems{src: d.src, errs: d.errs}).err()
}

func sortByLine(errs []*FieldError) {
	sort.SliceStable(errs, func(i, j int) bool {
		li, lj := errs[i].Line, errs[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// MaxMappingKeys bounds the keys of one YAML mapping in a config. The YAML
// decoder checks a mapping for duplicate keys in time quadratic in its size
// (80,000 headers took 90 s to validate); real configs have a handful.
const MaxMappingKeys = 1024

// largeMapping returns the first mapping under n (aliases not followed: their
// anchor is visited where it is defined) with more than MaxMappingKeys keys.
func largeMapping(n *yaml.Node) *yaml.Node {
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n, stack = stack[len(stack)-1], stack[:len(stack)-1]
		if n.Kind == yaml.MappingNode && len(n.Content)/2 > MaxMappingKeys {
			return n
		}
		if n.Kind != yaml.AliasNode {
			stack = append(stack, n.Content...)
		}
	}
	return nil
}

// dropDuplicateKeys reports every repeated key of a mapping under n once and
// removes its later occurrences. The YAML decoder would refuse to decode the
// whole mapping, and every field in it would then also be reported missing.
func (d *decoder) dropDuplicateKeys(n *yaml.Node) {
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n, stack = stack[len(stack)-1], stack[:len(stack)-1]
		if n.Kind == yaml.AliasNode {
			continue
		}
		if n.Kind == yaml.MappingNode {
			seen := make(map[string]int, len(n.Content)/2)
			kept := n.Content[:0]
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind == yaml.ScalarNode && k.Tag != "!!merge" {
					if first, dup := seen[k.Value]; dup {
						d.fail(k.Line, "", fmt.Errorf("mapping key %q already defined at line %d", k.Value, first))
						continue
					}
					seen[k.Value] = k.Line
				}
				kept = append(kept, k, n.Content[i+1])
			}
			clear(n.Content[len(kept):])
			n.Content = kept
		}
		stack = append(stack, n.Content...)
	}
}

// parse reads exactly one YAML document whose top level is a mapping.
func (d *decoder) parse(data []byte) (*yaml.Node, error) {
	if len(data) > MaxFileSize {
		return nil, &FieldError{File: d.src.file, Err: ErrTooLarge}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: d.src.file, Err: ErrEmpty}
		}
		return nil, d.syntaxError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, d.syntaxError(err)
	case !isNull(documentRoot(&extra)):
		return nil, &FieldError{File: d.src.file, Line: extra.Line, Err: errors.New("more than one YAML document; a config file holds exactly one")}
	}
	root := documentRoot(&doc)
	if isNull(root) {
		return nil, &FieldError{File: d.src.file, Line: doc.Line, Err: ErrEmpty}
	}
	if big := largeMapping(root); big != nil {
		return nil, &FieldError{File: d.src.file, Line: big.Line, Err: fmt.Errorf(
			"a mapping of %d keys; a config mapping holds at most %d (headers, instance_types…)", len(big.Content)/2, MaxMappingKeys)}
	}
	d.dropDuplicateKeys(root)
	if root.Kind != yaml.MappingNode {
		return nil, &FieldError{File: d.src.file, Line: root.Line, Err: fmt.Errorf("top level must be a mapping of keys to values, not %s", kindName(root))}
	}
	return root, nil
}

func documentRoot(doc *yaml.Node) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.DocumentNode && len(n.Content) == 0) ||
		(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", truncate(n.Value, 40))
	default:
		return "an alias"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// syntaxError turns "yaml: line 3: did not find expected key" into a FieldError
// pointing at file:3.
func (d *decoder) syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line, rest := splitLinePrefix(msg)
	return &FieldError{File: d.src.file, Line: line, Err: fmt.Errorf("invalid YAML: %s", rest)}
}

// splitLinePrefix splits "line 12: message" into 12 and "message".
func splitLinePrefix(msg string) (int, string) {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, tail, ok := strings.Cut(rest, ": ")
	if !ok {
		return 0, msg
	}
	line, err := strconv.Atoi(num)
	if err != nil {
		return 0, msg
	}
	return line, tail
}

// expand replaces ${VAR} in every scalar value (never in keys) of the tree.
// Aliases are skipped: their anchor is expanded where it is defined, exactly once.
func (d *decoder) expand(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = indexPath(path, i)
			}
			d.expand(c, p)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.expand(n.Content[i+1], joinPath(path, n.Content[i].Value))
		}
	case yaml.ScalarNode:
		d.expandScalar(n, path)
	}
}

func (d *decoder) expandScalar(n *yaml.Node, path string) {
	if !strings.Contains(n.Value, "$") {
		return
	}
	v, err := expandEnv(n.Value, d.lookup)
	if err != nil {
		d.envErr = true
		for _, e := range Problems(err) {
			d.fail(n.Line, path, e)
		}
		return
	}
	if v == n.Value {
		return
	}
	n.Value = v
	if n.Style == 0 {
		// A plain scalar is re-resolved after expansion, so "port: ${PORT}"
		// decodes as a number; quote the reference to keep a string.
		n.Tag = ""
	}
}

// Reflect types the key checker treats specially.
var (
	nodeType            = reflect.TypeOf(yaml.Node{})
	unmarshalerType     = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	obsoleteUnmarshaler = reflect.TypeOf((*interface {
		UnmarshalYAML(func(any) error) error
	})(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

func hasCustomDecoding(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, i := range []reflect.Type{unmarshalerType, obsoleteUnmarshaler, textUnmarshalerType} {
		if t.Implements(i) || pt.Implements(i) {
			return true
		}
	}
	return false
}

// check walks node n against Go type t, reporting every key t does not know, with
// its line, and recording the line of every known field path. Values with their
// own YAML decoding are trial-decoded here so their errors carry a line too.
func (d *decoder) check(n *yaml.Node, t reflect.Type, path string) {
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		v := visit{n.Alias, t}
		if n.Alias == nil || d.visited[v] {
			return
		}
		d.visited[v] = true
		d.check(n.Alias, t, path)
		return
	}
	if t == nodeType || isNull(n) {
		return
	}
	if hasCustomDecoding(t) {
		d.trialDecode(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if d.expectKind(n, yaml.MappingNode, path) {
			d.checkStruct(n, t, path)
		}
	case reflect.Map:
		if d.expectKind(n, yaml.MappingNode, path) {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := keyPath(path, k.Value)
				d.src.note(p, k.Line)
				d.check(v, t.Elem(), p)
			}
		}
	case reflect.Slice, reflect.Array:
		if d.expectKind(n, yaml.SequenceNode, path) {
			for i, item := range n.Content {
				p := indexPath(path, i)
				d.src.note(p, item.Line)
				d.check(item, t.Elem(), p)
			}
		}
	case reflect.Interface:
	default:
		// Scalars are trial-decoded one by one: yaml stops at the first error of
		// a custom unmarshaler and would hide the type errors after it.
		d.trialDecode(n, t, path)
	}
}

// expectKind reports a mapping or list given as something else.
func (d *decoder) expectKind(n *yaml.Node, want yaml.Kind, path string) bool {
	if n.Kind == want {
		return true
	}
	what := "a mapping (key: value)"
	if want == yaml.SequenceNode {
		what = "a list"
	}
	d.fail(n.Line, path, fmt.Errorf("expected %s, got %s", what, kindName(n)))
	d.bad = append(d.bad, n)
	return false
}

func (d *decoder) trialDecode(n *yaml.Node, t reflect.Type, path string) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	d.bad = append(d.bad, n)
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			line, rest := splitLinePrefix(msg)
			if line == 0 {
				line = n.Line
			}
			d.fail(line, path, errors.New(rest))
		}
		return
	}
	d.fail(n.Line, path, err)
}

func (d *decoder) checkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		return // the decoder reports the type mismatch
	}
	fields, inline := structFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && (k.ShortTag() == "!!merge" || (k.Value == "<<" && k.Style == 0)) {
			d.checkMerge(v, t, path)
			continue
		}
		name := k.Value
		ft, ok := fields[name]
		switch {
		case ok:
			p := joinPath(path, name)
			d.src.note(p, k.Line)
			d.check(v, ft, p)
		case inline != nil:
			p := keyPath(path, name)
			d.src.note(p, k.Line)
			d.check(v, inline, p)
		default:
			d.unknownField(k, path, fields)
		}
	}
}

func (d *decoder) checkMerge(v *yaml.Node, t reflect.Type, path string) {
	if v.Kind == yaml.SequenceNode {
		for _, item := range v.Content {
			d.check(item, t, path)
		}
		return
	}
	d.check(v, t, path)
}

func (d *decoder) unknownField(k *yaml.Node, path string, fields map[string]reflect.Type) {
	name := k.Value
	if k.Kind != yaml.ScalarNode {
		name = "<" + kindName(k) + ">"
	}
	msg := fmt.Sprintf("%q", truncate(name, 60))
	if path != "" {
		msg += " in " + path
	}
	if s := suggest(name, fields); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.fail(k.Line, "", fmt.Errorf("%w %s", ErrUnknownField, msg))
}

// structFields maps YAML key → field type the way go-yaml does: the tag name, else
// the lower-cased field name; ",inline" structs contribute their fields and an
// ",inline" map accepts any other key (returned as its element type).
func structFields(t reflect.Type) (map[string]reflect.Type, reflect.Type) {
	fields := map[string]reflect.Type{}
	var inline reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if hasOpt(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Struct:
				sub, subInline := structFields(ft)
				for k, v := range sub {
					fields[k] = v
				}
				if subInline != nil {
					inline = subInline
				}
			case reflect.Map:
				inline = ft.Elem()
			}
			continue
		}
		if f.PkgPath != "" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields, inline
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// suggest returns the known field closest to name when it is a likely typo.
func suggest(name string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	for f := range fields {
		dist := textdist.EditDistance(strings.ToLower(name), f)
		if dist < bestDist || (dist == bestDist && best != "" && f < best) {
			best, bestDist = f, dist
		}
	}
	if bestDist > 2 || bestDist >= len(name) {
		return ""
	}
	return best
}

// decode decodes n into out (which holds the defaults) and records yaml's type
// errors with their lines. Nothing is decoded when a ${VAR} failed to expand:
// the unexpanded text would only produce misleading type errors.
//
// The key checker has already trial-decoded every value and reported those that
// fail; they are nulled here (so their field keeps its default) because yaml
// stops at the first error of a custom unmarshaler and would leave the fields
// after it undecoded. What yaml still reports (duplicate keys, say) is added.
func (d *decoder) decode(n *yaml.Node, out any) {
	if d.envErr {
		return
	}
	for _, b := range d.bad {
		*b = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: b.Line, Column: b.Column}
	}
	d.bad = nil
	d.decoded = true
	err := n.Decode(out)
	if err == nil {
		return
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		line, rest := splitLinePrefix(strings.TrimPrefix(err.Error(), "yaml: "))
		d.fail(line, d.src.fieldAt(line), errors.New(rest))
		return
	}
	for _, msg := range te.Errors {
		line, rest := splitLinePrefix(msg)
		d.fail(line, d.src.fieldAt(line), errors.New(rest))
	}
}

// decodeFile runs every step for a config whose whole document maps onto out.
// partial reports that out was decoded despite the error (unknown keys, bad
// values), so validating it can still find the other problems.
func decodeFile(data []byte, file string, lookup func(string) (string, bool), out any) (src *source, partial bool, err error) {
	d := newDecoder(file, lookup)
	root, err := d.parse(data)
	if err != nil {
		return nil, false, err
	}
	d.expand(root, "")
	d.check(root, reflect.TypeOf(out), "")
	d.decode(root, out)
	d.crossCheck(root, reflect.TypeOf(out))
	return d.src, d.decoded, d.err()
}

// spellOutNulls writes empty null scalars as "null": yaml's encoder turns an
// empty null in a flow mapping ("{key}") into an empty quoted string.
func spellOutNulls(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			spellOutNulls(c)
		}
	case yaml.ScalarNode:
		if n.Value == "" && n.ShortTag() == "!!null" {
			n.Value = "null"
		}
	}
}

// crossCheckMarker ends the message of a problem that only yaml's own strict
// mode found, i.e. a gap in check (the fuzz tests look for it).
const crossCheckMarker = "(found by strict re-decoding)"

// crossCheck re-encodes the decoded tree and decodes it again with yaml's own
// Decoder.KnownFields(true) into a fresh value of type t: a safety net under
// check. It only runs when nothing else failed; lines refer to the re-encoded
// text, so they are dropped.
func (d *decoder) crossCheck(n *yaml.Node, t reflect.Type) {
	if len(d.errs) > 0 || !d.decoded {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	spellOutNulls(n)
	raw, err := yaml.Marshal(n)
	if err != nil {
		d.fail(0, "", fmt.Errorf("re-encode config: %w", err))
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(reflect.New(t).Interface()); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		msgs := []string{err.Error()}
		if errors.As(err, &te) {
			msgs = te.Errors
		}
		for _, m := range msgs {
			_, rest := splitLinePrefix(m)
			d.fail(0, "", fmt.Errorf("%s %s", rest, crossCheckMarker))
		}
	}
}

// withValidation adds to a parse error the validation problems of the partly
// decoded config, leaving out those on a line that already has a problem (a
// value that failed to decode kept its default, which may look invalid).
func withValidation(parseErr, validateErr error) error {
	lines := map[int]bool{}
	seen := map[string]bool{}
	var out []error
	for _, e := range Problems(parseErr) {
		out = append(out, e)
		seen[e.Error()] = true
		if fe, ok := e.(*FieldError); ok && fe.Line > 0 {
			lines[fe.Line] = true
		}
	}
	for _, e := range Problems(validateErr) {
		if fe, ok := e.(*FieldError); seen[e.Error()] || (ok && lines[fe.Line]) {
			continue
		}
		out = append(out, e)
	}
	fes := make([]*FieldError, 0, len(out))
	for _, e := range out {
		fe, ok := e.(*FieldError)
		if !ok {
			fe = &FieldError{Err: e}
		}
		fes = append(fes, fe)
	}
	return (&problems{errs: fes}).err()
}
