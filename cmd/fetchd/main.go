// Command fetchd retrieves mail from POP3 accounts and delivers it durably.
//
// main wires signals and crash points; run (run.go) dispatches the
// commands, one file each. The commands, their flags and examples are
// described once, in help.go, from which `fetchd help`, each command's
// --help, the man pages and the shell completions are generated.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"fetchd/internal/crashpoint"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		// First signal: let each message in flight finish delivery and
		// recording, then QUIT.
		cancel(fmt.Errorf("received %s", sig))
		sig = <-sigs
		// Second signal: exit at once. Connections drop without QUIT, so
		// the servers roll back; nothing recorded is lost.
		fmt.Fprintln(os.Stderr, "fetchd: second signal, exiting at once")
		code := 130
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		os.Exit(code)
	}()
	plan, err := crashpoint.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetchd:", err)
		os.Exit(exitUsage)
	}
	code := run(crashpoint.With(ctx, plan), os.Args[1:], os.Stdout, os.Stderr)
	cancel(nil)
	os.Exit(code)
}
