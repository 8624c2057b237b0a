package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// Exit statuses, as the README documents them.
const (
	exitOK          = 0
	exitFailed      = 1 // some account failed
	exitUsage       = 2 // bad config or usage
	exitStateLocked = 3 // the state store cannot be opened
)

const usage = `fetchd retrieves mail from POP3 accounts and delivers it durably.

Usage:
  fetchd run [-c FILE]                 run as a daemon: poll every account on its schedule
  fetchd once [-c FILE] [ACCOUNT...]   poll each account (or those named) once
  fetchd retry [-c FILE] [ACCOUNT...]  retry messages held after a permanent failure, then poll
  fetchd check [-c FILE]               validate the configuration and list the accounts
  fetchd auth [-c FILE] ACCOUNT        grant fetchd OAuth2 access to an account (Google, Microsoft)
  fetchd doctor [-c FILE] ACCOUNT      show the server's certificates, capabilities and login method
  fetchd status [-c FILE] [--json]     each account's last poll, result, next poll and error
  fetchd resume [-c FILE] ACCOUNT...   lift the pause of an account whose login kept failing
  fetchd --version                     print the version

The configuration defaults to $XDG_CONFIG_HOME/fetchd/config.toml, then
/etc/fetchd/config.toml. Exit status: 0 ok, 1 an account failed, 2 bad
configuration or usage, 3 the state store cannot be opened.

When a daemon runs on the same state store, once, retry, status and resume
go through it (bbolt lets one process open the store).
`

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module's build information.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return runDaemon(ctx, args[1:], stdout, stderr)
	case "auth":
		return runAuth(ctx, args[1:], stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case "resume":
		return runResume(ctx, args[1:], stdout, stderr)
	case "once":
		return runOnce(ctx, args[1:], stdout, stderr)
	case "retry":
		return runRetry(ctx, args[1:], stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "import-config":
		return runImportConfig(ctx, args[1:], stdout, stderr)
	case "import-state":
		return runImportState(ctx, args[1:], stdout, stderr)
	case "add":
		return runAdd(ctx, args[1:], stdout, stderr)
	case "--version", "-version", "version":
		fmt.Fprintf(stdout, "fetchd %s\n", versionString())
		return exitOK
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "fetchd: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
