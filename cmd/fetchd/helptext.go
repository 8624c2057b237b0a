package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Help on the terminal: `fetchd help`, `fetchd help CMD` and `fetchd CMD
// --help`, from the command table (help.go) and the flags each command
// defines.

// newCommandFlags returns a subcommand's flag set, whose --help prints the
// command's synopsis, description, flags and examples. A flagProbe given as
// stderr records it, which is how help, man page and completion learn the
// flags of a command without running it.
func newCommandFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fetchd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { writeCommandHelp(fs.Output(), name, flagDocs(fs)) }
	if p, ok := stderr.(*flagProbe); ok {
		p.sets = append(p.sets, fs)
	}
	return fs
}

// flagProbe stands in for a command's stderr while it is asked for --help.
type flagProbe struct {
	sets []*flag.FlagSet
}

func (*flagProbe) Write(b []byte) (int, error) { return len(b), nil }

// commandFlags returns the flags of a command, asking it for --help with a
// probe as stderr: the command parses its flags and returns, doing nothing.
func commandFlags(ctx context.Context, c *command) ([]flagDoc, error) {
	if c.noFlags {
		return nil, nil
	}
	p := &flagProbe{}
	code := run(ctx, []string{c.name, "--help"}, io.Discard, p)
	if code != exitOK || len(p.sets) == 0 {
		return nil, fmt.Errorf("fetchd %s --help: exit %d, no flag set seen: make its flags with newFlagSet or newCommandFlags", c.name, code)
	}
	return flagDocs(p.sets[len(p.sets)-1]), nil
}

// flagDoc is one flag, or several names for one value (-c and --config).
type flagDoc struct {
	names []string // as defined, without dashes
	arg   string   // the value's name, "" for a boolean flag
	usage string
}

// spelled is how the flag is written: -c for one letter, --name otherwise
// (Go's flag package takes either dash count; these are what we show).
func (f flagDoc) spelled() []string {
	out := make([]string, len(f.names))
	for i, n := range f.names {
		out[i] = dashed(n)
	}
	return out
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagDocs lists fs's flags, merging the names that share a value.
func flagDocs(fs *flag.FlagSet) []flagDoc {
	var out []flagDoc
	index := map[uintptr]int{}
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if d := f.DefValue; d != "" && d != "false" && d != "0" {
			usage += " (default " + d + ")"
		}
		id := valueID(f.Value)
		if i, ok := index[id]; ok && id != 0 {
			out[i].names = append(out[i].names, f.Name)
			// The alias says "same as -c"; keep the real description.
			if len(usage) > len(out[i].usage) {
				out[i].usage = usage
			}
			return
		}
		index[id] = len(out)
		out = append(out, flagDoc{names: []string{f.Name}, arg: arg, usage: usage})
	})
	return out
}

// valueID is the address a flag's value stores into, or 0 when unknown.
func valueID(v flag.Value) uintptr {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		return rv.Pointer()
	}
	return 0
}

// synopsis is the command line of c: "fetchd once [flags] [ACCOUNT...]".
func synopsis(c *command) string {
	s := "fetchd " + c.name
	if !c.noFlags {
		s += " [flags]"
	}
	if c.args != "" {
		s += " " + c.args
	}
	return s
}

// writeCommandHelp is what `fetchd CMD --help` prints.
func writeCommandHelp(w io.Writer, name string, flags []flagDoc) {
	c := findCommand(name)
	if c == nil {
		// A command missing from the table (TestHelp_EveryCommandInTable
		// catches it) still shows its flags.
		c = &command{name: name}
	}
	fmt.Fprintf(w, "Usage: %s\n\n", synopsis(c))
	for _, p := range paragraphs(c.doc) {
		for _, l := range wrap(p, 76) {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
	}
	if len(flags) > 0 {
		fmt.Fprintln(w, "Flags:")
		for _, f := range flags {
			head := "  " + strings.Join(f.spelled(), ", ")
			if f.arg != "" {
				head += " " + f.arg
			}
			fmt.Fprintln(w, head)
			for _, l := range wrap(f.usage, 68) {
				fmt.Fprintln(w, "        "+l)
			}
		}
		fmt.Fprintln(w)
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "Examples:")
		for _, e := range c.examples {
			fmt.Fprintln(w, "  "+e.line)
			for _, l := range wrap(e.what, 68) {
				fmt.Fprintln(w, "        "+l)
			}
		}
	}
}

// writeOverview is what `fetchd help` prints.
func writeOverview(w io.Writer) {
	fmt.Fprint(w, "fetchd retrieves mail from POP3 accounts and delivers it durably.\n\n")
	fmt.Fprint(w, "Usage: fetchd COMMAND [flags] [arguments]\n\nCommands:\n")
	for i := range commands {
		c := &commands[i]
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'fetchd help COMMAND' for a command's flags and examples, and
'man fetchd' and 'man fetchd.toml' for all of it.

The configuration (-c FILE) defaults to $XDG_CONFIG_HOME/fetchd/config.toml
(~/.config/fetchd/config.toml) if it exists, else /etc/fetchd/config.toml.
Exit status: 0 ok, 1 an account failed, 2 bad configuration or usage, 3 the
state store cannot be opened.
`)
}

// runHelp is `fetchd help [COMMAND]`.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeOverview(stdout)
		return exitOK
	}
	c := findCommand(args[0])
	if c == nil || len(args) > 1 {
		fmt.Fprintf(stderr, "fetchd help: no command %q: run fetchd help for the list\n", strings.Join(args, " "))
		return exitUsage
	}
	flags, err := commandFlags(ctx, c)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd help: %v\n", err)
		return exitFailed
	}
	writeCommandHelp(stdout, c.name, flags)
	return exitOK
}

// paragraphs splits text at blank lines.
func paragraphs(text string) []string {
	var out []string
	for _, p := range strings.Split(text, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.Join(strings.Fields(p), " "))
		}
	}
	return out
}

// wrap breaks text into lines of at most width columns, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
