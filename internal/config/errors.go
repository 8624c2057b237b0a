package config

import (
	"strconv"
	"strings"
)

// Errors is the error Load and Parse return when anything in the file is
// wrong. It lists every problem found, not just the first.
type Errors struct {
	Problems []*Problem
}

// Error is every problem, one per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a single *Problem.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File string // the path as given to Load or Parse
	Line int    // 1-based; 0 when not known
	// Section is "defaults" for a problem in [defaults] (or [[defaults.deliver]]);
	// empty otherwise.
	Section string
	// Account is the account's name, or "#N" (1-based position in the file)
	// for an account without a usable name; empty when not about an account.
	Account string
	// Key is the key, or the deliver entry and key ("deliver #2: maildir").
	Key string
	Msg string // what is wrong and what to do
}

// Error formats the problem as
//
//	config.toml:12: account "work": port: must be 1..65535, got 70000
//
// leaving out the parts that are empty.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Section != "" {
		b.WriteString(p.Section + ": ")
	}
	if p.Account != "" {
		b.WriteString(accountLabel(p.Account) + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// accountLabel is how messages name an account: `account "work"`, or
// `account #2` when it has no usable name.
func accountLabel(id string) string {
	if strings.HasPrefix(id, "#") {
		return "account " + id
	}
	return "account " + strconv.Quote(id)
}

// Suggest returns the candidate closest to key when it is close enough to
// be a likely typo, else "": for importers' unknown words, where a word too
// far from every candidate may be a password on a line of its own and must
// not be shown.
func Suggest(key string, candidates []string) string { return suggest(key, candidates) }

// suggest returns the candidate closest to key when it is close enough to be
// a likely typo, else "".
func suggest(key string, candidates []string) string {
	if len(key) > 64 {
		return ""
	}
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(key), c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	// One edit for short keys, up to a third of the key for long ones.
	limit := max(1, min(3, len(key)/3))
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b, in
// bytes: insertions, deletions, substitutions and swaps of two neighbours
// ("prot" for "port") each count as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
