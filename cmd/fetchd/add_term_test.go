package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// Off a terminal the prompter still reads lines, a canceled context ends
// the wait, and no secret is ever read with echo on: echo cannot be turned
// off on a pipe, so Secret refuses.
func TestPrompter_Pipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if newPrompter(r, &bytes.Buffer{}) != nil {
		t.Fatal("a pipe was taken for a terminal")
	}
	var out bytes.Buffer
	p := &ttyPrompter{in: r, out: &out}
	p.r = bufio.NewReader(r)
	w.WriteString("pop.example.com:995\r\n")
	if got, err := p.Line(context.Background(), "server? "); err != nil || got != "pop.example.com:995" || out.String() != "server? " {
		t.Errorf("Line = %q, %v; prompt %q", got, err, out.String())
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(errors.New("received interrupt")) })
	if _, err := p.Line(ctx, "again? "); err == nil || !strings.Contains(err.Error(), "interrupt") {
		t.Errorf("Line after cancel: %v, want the cause", err)
	}
	if _, err := p.Secret(context.Background(), "password: "); err == nil || !strings.Contains(err.Error(), "--password-file") {
		t.Errorf("Secret on a pipe: %v, want a refusal naming --password-file", err)
	}
}

func TestAskYesNo(t *testing.T) {
	for answer, want := range map[string]bool{"y": true, " YES ": true, "n": false, "": false, "yep": false} {
		got, err := askYesNo(context.Background(), &fakeTTY{answers: []string{answer}}, "Use it?")
		if err != nil || got != want {
			t.Errorf("answer %q: %t, %v; want %t", answer, got, err, want)
		}
	}
}
