package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"fetchd/internal/deliver"
)

// deliverAll hands one message to every target of the account. With one
// target the body streams straight through; with several it is spooled once
// to a file and each target reads the spool. Every target stages before any
// commits, so a failure while staging leaves no copy anywhere.
func deliverAll(ctx context.Context, a *Account, env *deliver.Envelope, body io.Reader) error {
	if len(a.Targets) == 0 {
		return deliver.Permanent("account "+a.Name, "deliver", errors.New("no delivery target configured"))
	}
	if len(a.Targets) == 1 {
		return stageAndCommit(ctx, a.Targets[:1], env, func() (io.Reader, error) { return body, nil })
	}

	spool, err := os.CreateTemp(a.SpoolDir, "spool-*.eml")
	if err != nil {
		return deliver.Temporary("spool", "create", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	if _, err := io.Copy(spool, body); err != nil {
		return deliver.Temporary("spool", "write "+spool.Name(), err)
	}
	rewind := func() (io.Reader, error) {
		if _, err := spool.Seek(0, io.SeekStart); err != nil {
			return nil, deliver.Temporary("spool", "rewind", err)
		}
		return bufio.NewReaderSize(spool, 64<<10), nil
	}
	return stageAndCommit(ctx, a.Targets, env, rewind)
}

func stageAndCommit(ctx context.Context, targets []deliver.Deliverer, env *deliver.Envelope, body func() (io.Reader, error)) error {
	staged := make([]deliver.Staged, 0, len(targets))
	abortAll := func() {
		for _, st := range staged {
			st.Abort()
		}
	}
	for _, t := range targets {
		r, err := body()
		if err != nil {
			abortAll()
			return err
		}
		st, err := t.Stage(ctx, env, r)
		if err != nil {
			abortAll()
			return fmt.Errorf("%s: %w", t, err)
		}
		staged = append(staged, st)
	}
	for i, st := range staged {
		if err := st.Commit(ctx); err != nil {
			for _, rest := range staged[i:] {
				rest.Abort()
			}
			if i > 0 {
				// The earlier targets have the message; the next poll
				// delivers it to them again. Issue: per-target progress.
				err = fmt.Errorf("%w (already delivered to %d of %d targets, which will get it again)", err, i, len(staged))
			}
			return fmt.Errorf("%s: %w", targets[i], err)
		}
	}
	return nil
}
