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

// The usage text, `fetchd help` and each command's --help come from the
// command table in help.go.

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
		writeOverview(stderr)
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
	case "completion":
		return runCompletion(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "-help", "help":
		return runHelp(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "fetchd: unknown command %q\n\n", args[0])
		writeOverview(stderr)
		return exitUsage
	}
}
