package allocation

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Parsing filters: a hand-written lexer feeding a recursive-descent parser, one
// function per grammar rule (see filter.go for the language). The lexer is pulled
// one token at a time, so the first error reported is the leftmost one.

// maxFilterDepth bounds parenthesis nesting, so no input can exhaust the stack.
const maxFilterDepth = 64

// FilterError is a filter that does not parse. Pos counts characters (not bytes)
// from 1; a position one past the last character means the filter ended too
// soon.
type FilterError struct {
	Input string
	Pos   int
	Msg   string
}

// Error is one line naming the position and the problem, then the filter with a
// caret under the offending character.
func (e *FilterError) Error() string {
	return fmt.Sprintf("filter: position %d: %s\n%s\n%s^", e.Pos, e.Msg, printable(e.Input), strings.Repeat(" ", e.Pos-1))
}

// printable replaces control characters by spaces so the caret lines up.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// ParseFilter parses a filter. The empty (or all-blank) filter parses to the zero
// Filter, which matches everything. Errors are *FilterError.
func ParseFilter(s string) (Filter, error) {
	p := &parser{lx: lexer{src: s}}
	if err := p.advance(); err != nil {
		return Filter{}, err
	}
	if p.tok.kind == tokEOF {
		return Filter{}, nil
	}
	root, err := p.parseOr("at the start of the filter")
	if err != nil {
		return Filter{}, err
	}
	switch p.tok.kind {
	case tokEOF:
		return Filter{Root: root}, nil
	case tokRParen:
		return Filter{}, p.errorf(p.tok.pos, "')' without a matching '('")
	}
	return Filter{}, p.errorf(p.tok.pos, "expected '+', '|' or the end of the filter, found %s", p.tok.describe())
}

type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokField            // a field name
	tokKey              // [key]
	tokOp               // : !: ~: …
	tokValue            // "quoted value"
	tokComma            // ,
	tokAnd              // +
	tokOr               // |
	tokLParen           // (
	tokRParen           // )
)

type token struct {
	kind tokenKind
	pos  int    // byte offset of the token's first character
	text string // field name, key, or decoded value
	op   FilterOp
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the filter"
	case tokField:
		return fmt.Sprintf("%q", t.text)
	case tokKey:
		return fmt.Sprintf("'[%s]'", t.text)
	case tokOp:
		return fmt.Sprintf("'%s'", t.op)
	case tokValue:
		return "a quoted value"
	case tokComma:
		return "','"
	case tokAnd:
		return "'+'"
	case tokOr:
		return "'|'"
	case tokLParen:
		return "'('"
	}
	return "')'"
}

// lexer splits a filter into tokens.
type lexer struct {
	src string
	off int
}

// lexError is an error at a byte offset; the parser turns it into a FilterError.
type lexError struct {
	off int
	msg string
}

func (l *lexer) fail(off int, format string, args ...any) (token, *lexError) {
	return token{}, &lexError{off: off, msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) next() (token, *lexError) {
	for l.off < len(l.src) && isFilterSpace(l.src[l.off]) {
		l.off++
	}
	start := l.off
	if start >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	if k, ok := punctuation(c); ok {
		l.off++
		return token{kind: k, pos: start}, nil
	}
	switch {
	case c == '"':
		return l.quoted()
	case c == '[':
		return l.key()
	case isASCIILetter(c):
		return l.field(), nil
	case c == ':' || c == '!' || c == '~' || c == '<':
		return l.operator()
	}
	r, _ := utf8.DecodeRuneInString(l.src[start:])
	if r == utf8.RuneError {
		return l.fail(start, "invalid UTF-8")
	}
	return l.fail(start, "unexpected character %q", r)
}

func punctuation(c byte) (tokenKind, bool) {
	switch c {
	case ',':
		return tokComma, true
	case '+':
		return tokAnd, true
	case '|':
		return tokOr, true
	case '(':
		return tokLParen, true
	case ')':
		return tokRParen, true
	}
	return tokEOF, false
}

func isFilterSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func (l *lexer) field() token {
	start := l.off
	for l.off < len(l.src) && (isASCIILetter(l.src[l.off]) || isDigit(l.src[l.off]) || l.src[l.off] == '_') {
		l.off++
	}
	return token{kind: tokField, pos: start, text: l.src[start:l.off]}
}

// operatorsLongestFirst lists the operators so that no token is a prefix of a
// later one.
var operatorsLongestFirst = [...]FilterOp{
	OpNotHasPrefix, OpNotHasSuffix, OpNotContains, OpHasPrefix, OpHasSuffix, OpContains, OpNotEquals, OpEquals,
}

const operatorList = "':', '!:', '~:', '!~:', '<~:', '!<~:', '~>:' or '!~>:'"

func (l *lexer) operator() (token, *lexError) {
	start := l.off
	for _, op := range operatorsLongestFirst {
		if strings.HasPrefix(l.src[start:], op.String()) {
			l.off += len(op.String())
			return token{kind: tokOp, pos: start, op: op}, nil
		}
	}
	return l.fail(start, "unknown operator: want %s", operatorList)
}

func (l *lexer) key() (token, *lexError) {
	start := l.off
	end := strings.IndexByte(l.src[start+1:], ']')
	if end < 0 {
		return l.fail(start, "'[' without a closing ']'")
	}
	key := strings.TrimSpace(l.src[start+1 : start+1+end])
	if key == "" {
		return l.fail(start, "empty key in '[]'")
	}
	l.off = start + end + 2
	return token{kind: tokKey, pos: start, text: key}, nil
}

// quoted reads a double-quoted value and decodes its escapes.
func (l *lexer) quoted() (token, *lexError) {
	start := l.off
	var b strings.Builder
	plain := start + 1 // start of the run not yet copied into b
	for i := start + 1; i < len(l.src); i++ {
		switch l.src[i] {
		case '"':
			l.off = i + 1
			if b.Len() == 0 && plain == start+1 {
				return token{kind: tokValue, pos: start, text: l.src[start+1 : i]}, nil
			}
			b.WriteString(l.src[plain:i])
			return token{kind: tokValue, pos: start, text: b.String()}, nil
		case '\\':
			if i+1 >= len(l.src) {
				return l.fail(start, "quoted value without a closing '\"'")
			}
			c, ok := unescape(l.src[i+1])
			if !ok {
				return l.fail(i, `unknown escape '\%c' in a quoted value (use \" \\ \n \t or \r)`, l.src[i+1])
			}
			b.WriteString(l.src[plain:i])
			b.WriteByte(c)
			i++
			plain = i + 1
		}
	}
	return l.fail(start, "quoted value without a closing '\"'")
}

func unescape(c byte) (byte, bool) {
	switch c {
	case '"', '\\':
		return c, true
	case 'n':
		return '\n', true
	case 't':
		return '\t', true
	case 'r':
		return '\r', true
	}
	return 0, false
}

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	lx    lexer
	tok   token
	depth int
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return p.errorf(err.off, "%s", err.msg)
	}
	p.tok = t
	return nil
}

// errorf makes a FilterError at byte offset off.
func (p *parser) errorf(off int, format string, args ...any) error {
	src := p.lx.src
	return &FilterError{Input: src, Pos: utf8.RuneCountInString(src[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

// parseOr: or = and { "|" and }. where says where the first operand starts, for
// error messages.
func (p *parser) parseOr(where string) (FilterNode, error) {
	first, err := p.parseAnd(where)
	if err != nil || p.tok.kind != tokOr {
		return first, err
	}
	or := &FilterOr{}
	or.add(first)
	for p.tok.kind == tokOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseAnd("after '|'")
		if err != nil {
			return nil, err
		}
		or.add(n)
	}
	return or, nil
}

// parseAnd: and = term { "+" term }.
func (p *parser) parseAnd(where string) (FilterNode, error) {
	first, err := p.parseTerm(where)
	if err != nil || p.tok.kind != tokAnd {
		return first, err
	}
	and := &FilterAnd{}
	and.add(first)
	for p.tok.kind == tokAnd {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseTerm("after '+'")
		if err != nil {
			return nil, err
		}
		and.add(n)
	}
	return and, nil
}

// add appends n, splicing in the operands of a parenthesised or-group: a|(b|c)
// is a|b|c.
func (n *FilterOr) add(o FilterNode) {
	if inner, ok := o.(*FilterOr); ok {
		n.Operands = append(n.Operands, inner.Operands...)
		return
	}
	n.Operands = append(n.Operands, o)
}

// add appends n, splicing in the operands of a parenthesised and-group.
func (n *FilterAnd) add(o FilterNode) {
	if inner, ok := o.(*FilterAnd); ok {
		n.Operands = append(n.Operands, inner.Operands...)
		return
	}
	n.Operands = append(n.Operands, o)
}

// parseTerm: term = "(" or ")" | comparison.
func (p *parser) parseTerm(where string) (FilterNode, error) {
	switch p.tok.kind {
	case tokLParen:
		return p.parseGroup()
	case tokField:
		return p.parseComparison()
	case tokEOF:
		return nil, p.errorf(p.tok.pos, "the filter ends too soon: expected a comparison %s", where)
	}
	return nil, p.errorf(p.tok.pos, "expected a comparison (such as namespace:\"a\") or '(' %s, found %s", where, p.tok.describe())
}

func (p *parser) parseGroup() (FilterNode, error) {
	open := p.tok.pos
	if p.depth++; p.depth > maxFilterDepth {
		return nil, p.errorf(open, "parentheses nested more than %d deep", maxFilterDepth)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.parseOr("after '('")
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokRParen:
	case tokEOF:
		return nil, p.errorf(p.tok.pos, "missing ')' to close the '(' at position %d", utf8.RuneCountInString(p.lx.src[:open])+1)
	default:
		return nil, p.errorf(p.tok.pos, "expected '+', '|' or ')', found %s", p.tok.describe())
	}
	p.depth--
	return n, p.advance()
}

// parseComparison: comparison = field [ "[" key "]" ] op value { "," value }.
func (p *parser) parseComparison() (FilterNode, error) {
	ft := p.tok
	field, ok := lookupFilterField(ft.text)
	if !ok {
		return nil, p.errorf(ft.pos, "unknown field %q (fields: %s)", ft.text, strings.Join(filterFieldNames[1:], ", "))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	c := &FilterComparison{Field: field}
	if p.tok.kind == tokKey {
		if !field.isMap() {
			return nil, p.errorf(p.tok.pos, "field %s takes no [key]", field)
		}
		c.Key = p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.tok.kind != tokOp {
		return nil, p.errorf(p.tok.pos, "expected an operator (%s) after %s, found %s", operatorList, ft.text, p.tok.describe())
	}
	c.Op = p.tok.op
	after := "'" + c.Op.String() + "'"
	for {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokValue {
			return nil, p.errorf(p.tok.pos, "expected a quoted value after %s", after)
		}
		c.Values = append(c.Values, p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokComma {
			return c, nil
		}
		after = "','"
	}
}

func lookupFilterField(name string) (FilterField, bool) {
	for f := FieldCluster; f <= FieldNamespaceAnnotation; f++ {
		if strings.EqualFold(name, filterFieldNames[f]) {
			return f, true
		}
	}
	return 0, false
}
