package importconfig

import (
	"strconv"
	"strings"

	"fetchd/internal/deliver"
)

// mdaDeliver translates an MDA command line, which the source ran with
// /bin/sh -c, into a deliver entry. known lists the placeholder letters
// the source substitutes ("TF" for fetchmail, "F" for mpop); fetchd
// substitutes %T and %F itself, single-quoted, so quotes the user put
// around a placeholder are dropped, and every other '%' is doubled to stay
// literal. A command of plain words becomes an argv (mda, no shell);
// anything else stays a shell command (mda_shell). The second result says
// why the command cannot be kept, or is "".
func mdaDeliver(cmd, known string) (Deliver, string) {
	if !validText(cmd) || strings.TrimSpace(cmd) == "" {
		return Deliver{}, "the command is empty or not valid UTF-8"
	}
	var b strings.Builder
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		if c == '%' && i+1 < len(cmd) && strings.IndexByte(known, cmd[i+1]) >= 0 {
			b.WriteString(cmd[i : i+2])
			i++
			continue
		}
		if c == '%' {
			b.WriteByte('%')
		}
		b.WriteByte(c)
	}
	s := b.String()
	for _, ph := range []string{"%T", "%F"} {
		s = strings.ReplaceAll(s, "'"+ph+"'", ph)
		s = strings.ReplaceAll(s, `"`+ph+`"`, ph)
	}
	if argv := plainWords(s); argv != nil {
		if _, err := deliver.NewMDA(deliver.MDAConfig{Argv: argv}); err == nil {
			return Deliver{MDA: argv}, ""
		}
	}
	if _, err := deliver.NewMDA(deliver.MDAConfig{Shell: s}); err != nil {
		return Deliver{}, "fetchd cannot run it safely: " + err.Error()
	}
	return Deliver{MDAShell: s}, ""
}

// plainWords splits s into words when the shell would do nothing but split
// it: no quotes, expansions, redirections, globs or an assignment in front.
// It returns nil otherwise, and for a program path that is relative.
func plainWords(s string) []string {
	if strings.ContainsAny(s, "|&;<>()$`\\\"'*?[]#~{}!\n") {
		return nil
	}
	words := strings.Fields(s)
	if len(words) == 0 || strings.Contains(words[0], "=") {
		return nil
	}
	if p := words[0]; !strings.HasPrefix(p, "/") && strings.Contains(p, "/") {
		return nil
	}
	return words
}

func itoa(n int) string { return strconv.Itoa(n) }

// atoiClamp reads an optional '-' and decimal digits, saturating at ±2^30
// so that no input overflows.
func atoiClamp(s string) int {
	neg := strings.HasPrefix(s, "-")
	n := 0
	for _, d := range strings.TrimPrefix(s, "-") {
		if d < '0' || d > '9' {
			break
		}
		if n < 1<<30 {
			n = n*10 + int(d-'0')
		}
	}
	if n > 1<<30 {
		n = 1 << 30
	}
	if neg {
		return -n
	}
	return n
}
