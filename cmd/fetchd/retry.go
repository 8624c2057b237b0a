package main

import (
	"context"
	"fmt"
	"io"

	"fetchd/internal/config"
	"fetchd/internal/state"
)

// runRetry lifts the hold on messages that failed permanently (after the
// user fixed the cause) and polls the accounts at once.
func runRetry(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts := &pollOptions{retry: true, before: func(store *state.Store, accounts []*config.Account) error {
		for _, a := range accounts {
			n, err := store.ResetFailed(accountKey(a))
			if err != nil {
				return fmt.Errorf("account %q: %w", a.Name, err)
			}
			fmt.Fprintf(stdout, "%s: %d held message(s) released for retry\n", a.Name, n)
		}
		return nil
	}}
	return runPoll(ctx, "retry", args, stdout, stderr, opts, nil)
}
