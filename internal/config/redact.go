package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// Keeping passwords out of problem messages. Problems are printed by `fetchd
// check`, logged on a reload and pasted into bug reports, so a message about
// password, smtp_password or client_secret never shows any part of its value: not in a type
// error, not in a check's complaint, not in a syntax error's quote of the
// offending token, and never as the raw line.

// secretTypeMsg is the type error of a secret key, whatever its value.
const secretTypeMsg = "must be a quoted string (the value is not shown: it is a password)"

// checkPassword guards a password sent in a POP3 PASS or SMTP AUTH command,
// as checkProtocolString guards user names, but none of its messages may
// quote the value.
func checkPassword(v any) string {
	s := v.(string)
	if s == "" {
		return "must not be empty"
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return "must not contain line breaks or NUL characters (the value is not shown: it is a password)"
	}
	return ""
}

// secretKeys are the keys whose values are passwords.
func secretKeys() []string {
	var keys []string
	for _, f := range accountFields {
		if f.secret {
			keys = append(keys, f.key)
		}
	}
	for _, f := range deliverFields {
		if f.secret {
			keys = append(keys, f.key)
		}
	}
	for _, f := range oauth2Fields {
		if f.secret {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// syntaxProblem turns toml.Decode's error into a Problem. It uses only the
// ParseError's short Message, never ErrorWithPosition or ErrorWithUsage,
// which print the line itself; and when the error lies in a password's
// value it drops even Message, which quotes the offending token: for
// `password = hunter2` it says `found "hunter"`.
func syntaxProblem(path string, data []byte, err error) *Problem {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Problem{File: path, Msg: "syntax error: " + err.Error()}
	}
	line := pe.Position.Line
	var key string
	if start := pe.Position.Start; start >= 0 && start <= len(data) {
		// Position.Line counts a newline the lexer stumbled on, which
		// puts "[[account]" + newline on the line after it; the
		// byte offset does not.
		line = 1 + bytes.Count(data[:start], []byte("\n"))
		var at int
		if key, at = secretAt(data, start); key != "" {
			// The assignment's line: an unterminated """ fails at the
			// end of the file.
			line = 1 + bytes.Count(data[:at], []byte("\n"))
		}
	} else {
		key = secretLine(nthLine(data, line))
	}
	if key != "" {
		return &Problem{File: path, Line: line, Msg: fmt.Sprintf(
			`syntax error in a password value (not shown): quote it, as in %s = "…" (or '…' if it holds " or \)`, key)}
	}
	// The lexer reports the end of input as a NUL character.
	msg := strings.ReplaceAll(pe.Message, `'\x00'`, "the end of the file")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &Problem{File: path, Line: line, Msg: "syntax error: " + msg}
}

// secretAt returns the secret key whose value the byte at off of data is
// part of, and the offset of that key; or "". It errs on the side of
// silence: the error is taken to be in a secret when its line starts with a
// secret key (`password = hunter2`, `password hunter2`), or when a secret
// key is assigned between off and the start of its line or of the value
// that holds it by the locator's scan. The value's start reaches back from
// inside a multi-line string or array, where an error may lie lines below,
// or at the end of the file; the assignment may sit in an inline table:
// `deliver = [{…, smtp_password = x}]`.
func secretAt(data []byte, off int) (string, int) {
	from := bytes.LastIndexByte(data[:off], '\n') + 1
	end := bytes.IndexByte(data[from:], '\n')
	if end < 0 {
		end = len(data) - from
	}
	if key := secretLine(string(data[from : from+end])); key != "" {
		return key, from
	}
	for _, v := range locate(data).values {
		if v.start > off {
			break
		}
		if off <= v.end {
			from = min(from, v.start)
		}
	}
	key, i := assignsSecret(string(data[from:off]))
	return key, from + i
}

// secretLine returns the secret key that line starts with, or "".
func secretLine(line string) string {
	key, _ := secretWord(strings.TrimLeft(line, " \t"))
	return key
}

// assignsSecret returns the last secret key that s assigns to (a bare word
// followed by '=') and its index in s, or "".
func assignsSecret(s string) (key string, at int) {
	for i := 0; i < len(s); i++ {
		if i > 0 && isBare(s[i-1]) {
			continue
		}
		k, n := secretWord(s[i:])
		if k != "" && strings.HasPrefix(strings.TrimLeft(s[i+n:], " \t"), "=") {
			key, at = k, i
		}
	}
	return key, at
}

// secretWord returns the secret key that the bare word at the start of s is,
// or looks like a typo of ("Password", "passwd"), or ""; and the word's length.
func secretWord(s string) (string, int) {
	n := 0
	for n < len(s) && isBare(s[n]) {
		n++
	}
	if n == 0 {
		return "", 0
	}
	return suggest(s[:n], secretKeys()), n
}

// nthLine is line n (1-based) of data, without its line end, or "".
func nthLine(data []byte, n int) string {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if i+1 == n {
			return string(l)
		}
	}
	return ""
}
