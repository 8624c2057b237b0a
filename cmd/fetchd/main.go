// Command fetchd retrieves mail from POP3 accounts and delivers it durably.
//
// Usage:
//
//	fetchd once [-c FILE] [ACCOUNT...]   poll each account once
//	fetchd check [-c FILE]               validate the configuration
//	fetchd --version
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
