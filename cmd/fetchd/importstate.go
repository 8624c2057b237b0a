package main

import (
	"context"
	"fmt"
	"io"
)

func runImportState(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "fetchd: not built yet")
	return exitUsage
}
