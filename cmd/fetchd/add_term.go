package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// prompter asks the user; add has one only when standard input is a
// terminal, so that a script never hangs on a question.
type prompter interface {
	// Line asks for a line, shown as it is typed.
	Line(ctx context.Context, prompt string) (string, error)
	// Secret asks for a line without echoing it.
	Secret(ctx context.Context, prompt string) (string, error)
}

// ttyPrompter prompts on out and reads the terminal in.
//
// Echo is turned off with termios through golang.org/x/sys/unix, already a
// dependency, rather than golang.org/x/term: the ten lines it would save
// are not worth a new module for our users to trust.
type ttyPrompter struct {
	in  *os.File
	out io.Writer
	r   *bufio.Reader
}

// newPrompter returns a prompter when in is a terminal, else nil.
func newPrompter(in *os.File, out io.Writer) prompter {
	if !termIsTTY(in) {
		return nil
	}
	return &ttyPrompter{in: in, out: out, r: bufio.NewReader(in)}
}

func (p *ttyPrompter) Line(ctx context.Context, prompt string) (string, error) {
	fmt.Fprint(p.out, prompt)
	return p.read(ctx)
}

func (p *ttyPrompter) Secret(ctx context.Context, prompt string) (string, error) {
	fmt.Fprint(p.out, prompt)
	restore, err := termEchoOff(p.in)
	if err != nil {
		return "", fmt.Errorf("cannot turn off the terminal's echo (%v): give the password with --password-file or --password-stdin", err)
	}
	// Restored on every return, also when a signal cancels ctx while the
	// read still waits: a terminal left without echo is the user's problem
	// long after we exit.
	defer func() {
		restore()
		fmt.Fprintln(p.out)
	}()
	return p.read(ctx)
}

// read returns one line without its line end. The read runs in its own
// goroutine so that ctx (the first Ctrl-C) ends the wait; that goroutine
// then still waits for a line, so a prompter is not used after a cancel.
func (p *ttyPrompter) read(ctx context.Context) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := p.r.ReadString('\n')
		done <- result{line, err}
	}()
	select {
	case <-ctx.Done():
		return "", context.Cause(ctx)
	case r := <-done:
		if r.err != nil && !(errors.Is(r.err, io.EOF) && r.line != "") {
			return "", fmt.Errorf("reading the terminal: %w", r.err)
		}
		return strings.TrimRight(r.line, "\r\n"), nil
	}
}

// askYesNo asks a y/N question; anything but y or yes is no.
func askYesNo(ctx context.Context, p prompter, question string) (bool, error) {
	answer, err := p.Line(ctx, question+" [y/N] ")
	if err != nil {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes", nil
}
